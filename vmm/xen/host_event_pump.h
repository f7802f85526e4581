#pragma once
// One thread that waits (epoll) on the hostToGuest eventfds of every host
// port and turns each write into a guest notification.

#include "base/unique_fd.h"

#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace basalt::xen {

class EventChannels;
struct HostEndpoint;

class HostEventPump {
public:
    explicit HostEventPump(EventChannels& channels);
    ~HostEventPump(); // stops and joins
    bool ok() const { return epoll_.valid() && stop_.valid(); }

    void add(const std::shared_ptr<HostEndpoint>& endpoint);
    void remove(const HostEndpoint& endpoint);

private:
    void loop();

    EventChannels& channels_;
    UniqueFd epoll_;
    UniqueFd stop_; // eventfd: written by the destructor
    std::mutex mutex_;
    std::map<int, std::shared_ptr<HostEndpoint>> byFd_;
    std::thread thread_;
};

} // namespace basalt::xen
