#pragma once
// A guest store ring handed over as file descriptors (XS_INTRODUCE with
// SCM_RIGHTS, see docs/xenstore.md): Basalt's xenstored has no foreign-memory
// access, so the core sends the page's memfd (and the page's offset in it)
// and the two eventfds of the guest's store event channel.
//
//   guest EVTCHNOP_send(store port) -> core makes guestToStore readable
//     -> this connection reads the count and calls kicked()
//   reply queued -> notify() writes 1 to storeToGuest
//     -> the core sets the guest port pending (upcall)
//
// The mapping and both eventfds live exactly as long as the connection.

#include "base/mapped_region.h"
#include "base/unique_fd.h"
#include "toolstack/xenstored/ring_connection.h"
#include "toolstack/xenstored/server.h"

#include <boost/asio.hpp>

#include <memory>

namespace basalt::xenstore {

namespace detail {
// Constructed before the RingConnection base, which needs the page and channel.
struct FdRingResources : EventChannel {
    MappedRegion page;
    UniqueFd storeToGuest;
    void notify() override;
};
} // namespace detail

class FdRingConnection : private detail::FdRingResources, public RingConnection {
public:
    // The FdRingIntroducer a daemon with an io_context installs.
    static FdRingIntroducer introducer(boost::asio::io_context& io, Server& server);
    // Validates and maps the page (EINVAL for a misaligned offset or one past
    // the end of the fd, whatever mmap says otherwise).
    static Result<std::shared_ptr<FdRingConnection>>
    create(boost::asio::io_context& io, Server& server, DomId domid, RingFds fds);
    ~FdRingConnection() override;

private:
    FdRingConnection(boost::asio::io_context& io, Server& server, DomId domid,
                     detail::FdRingResources resources, UniqueFd guestToStore);
    void waitKick();
    void onClose() override;

    boost::asio::posix::stream_descriptor kicks_;
    std::weak_ptr<FdRingConnection> self_;
};

} // namespace basalt::xenstore
