#pragma once
// Helpers for xenstored unit tests: a connection that records what it is
// sent, and a synchronous request/reply call.

#include "toolstack/xenstored/server.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace basalt::xenstore::test {

class FakeConnection : public Connection {
public:
    explicit FakeConnection(DomId domid) : Connection(domid) {}
    std::string describe() const override { return "fake " + std::to_string(domid()); }

    // Decoded messages sent to this client, oldest first; consumed by take().
    std::vector<Message> take() {
        std::vector<Message> out;
        for (auto& bytes : queue_) {
            xsd_sockmsg h;
            std::memcpy(&h, bytes.data(), sizeof(h));
            out.push_back(Message{h.type, h.req_id, h.tx_id, bytes.substr(sizeof(h))});
        }
        consumed(queuedBytes());
        return out;
    }
    bool closedCalled = false;

protected:
    void transmit() override {}
    void onClose() override { closedCalled = true; }
};

inline std::shared_ptr<FakeConnection> connect(Server& server, DomId domid) {
    auto c = std::make_shared<FakeConnection>(domid);
    server.attach(c);
    return c;
}

inline std::string nul(std::string s) {
    return s + '\0';
}

// Sends one request; returns the reply (the first message that is not a watch
// event). Watch events stay available through events().
struct Client {
    Server& server;
    std::shared_ptr<FakeConnection> conn;
    std::vector<Message> pendingEvents;
    uint32_t nextReq = 1;

    Message call(uint32_t type, const std::string& payload, uint32_t tx = 0) {
        server.process(*conn, Message{type, nextReq++, tx, payload});
        Message reply;
        for (auto& m : conn->take()) {
            if (m.type == XS_WATCH_EVENT)
                pendingEvents.push_back(std::move(m));
            else
                reply = std::move(m);
        }
        return reply;
    }
    std::vector<Message> events() {
        for (auto& m : conn->take())
            pendingEvents.push_back(std::move(m));
        return std::exchange(pendingEvents, {});
    }
    // "OK", the value, or the error name.
    std::string write(const std::string& path, const std::string& value, uint32_t tx = 0) {
        return text(call(XS_WRITE, path + '\0' + value, tx));
    }
    std::string read(const std::string& path, uint32_t tx = 0) {
        return text(call(XS_READ, nul(path), tx));
    }
    static std::string text(const Message& m) {
        std::string s = m.payload;
        if (!s.empty() && s.back() == '\0')
            s.pop_back();
        return m.type == XS_ERROR ? "ERR:" + s : s;
    }
};

inline Client client(Server& server, DomId domid) {
    return Client{server, connect(server, domid)};
}

} // namespace basalt::xenstore::test
