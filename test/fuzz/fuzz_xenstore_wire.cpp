// Fuzzes xenstored's message handling end to end: the input is a byte
// stream as a client would send it (cut into pieces of fuzzer-chosen sizes),
// parsed by MessageReader and handled by a Server for one of three callers
// (dom0, a guest, a guest's device model). Every request must be answered
// or the stream dropped, replies must echo the request id, and the store
// must stay consistent.

#include "test/fuzz/fuzz_seeds.h"
#include "test/unit/xenstore/xs_test_util.h"

#include <cstdlib>

using namespace basalt::xenstore;
using namespace basalt::xenstore::test;

namespace {

std::string msg(uint32_t type, const std::string& payload, uint32_t tx = 0) {
    return encodeMessage(type, 1, tx, payload);
}

std::vector<uint8_t> bytes(const std::string& s) {
    return {s.begin(), s.end()};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2)
        return 0;
    Quotas q;
    q.maxNodes = 50;
    Server server(q);
    const DomId ids[] = {0, 5, 6};
    std::shared_ptr<FakeConnection> conns[3];
    for (int i = 0; i < 3; i++)
        conns[i] = connect(server, ids[i]);
    // Give domain 5 a home; 6 is its device model.
    Client d0{server, conns[0]};
    d0.write("/local/domain/5", "");
    d0.call(XS_SET_PERMS, std::string("/local/domain/5\0n5\0", 19));
    d0.call(XS_INTRODUCE, std::string("5\0"
                                      "1\0"
                                      "1\0",
                                      6));
    d0.call(XS_INTRODUCE, std::string("6\0"
                                      "1\0"
                                      "2\0",
                                      6));
    d0.call(XS_SET_TARGET, std::string("6\0"
                                       "5\0",
                                       4));
    conns[0]->take();

    auto& conn = conns[data[0] % 3];
    size_t chunk = 1 + data[1] % 64;
    MessageReader reader;
    size_t off = 2;
    while (off < size && !reader.broken()) {
        size_t n = std::min(chunk, size - off);
        size_t used = 0;
        while (used < n && !reader.broken()) {
            used += reader.feed(data + off + used, n - used);
            if (reader.hasMessage()) {
                Message m = reader.take();
                if (m.payload.size() > kPayloadMax)
                    abort();
                server.process(*conn, m);
                bool replied = false;
                for (auto& r : conn->take()) {
                    if (r.type == XS_WATCH_EVENT)
                        continue;
                    if (r.reqId != m.reqId || replied)
                        abort();
                    replied = true;
                }
                if (!replied && !conn->closed())
                    abort();
            }
        }
        off += n;
    }
    if (!server.tree().checkConsistency(nullptr))
        abort();
    return 0;
}

std::vector<std::vector<uint8_t>> basalt::fuzz::seeds() {
    std::string prefix("\x00\x10", 2);
    std::string guest("\x01\x07", 2);
    return {
        bytes(prefix + msg(XS_WRITE, std::string("/a/b\0v", 6)) +
              msg(XS_READ, std::string("/a/b\0", 5)) + msg(XS_DIRECTORY, std::string("/a\0", 3)) +
              msg(XS_RM, std::string("/a\0", 3))),
        bytes(prefix + msg(XS_TRANSACTION_START, std::string("\0", 1)) +
              msg(XS_WRITE, std::string("/t\0x", 4), 1) +
              msg(XS_TRANSACTION_END, std::string("T\0", 2), 1)),
        bytes(guest + msg(XS_WATCH, std::string("dev\0tok\0", 8)) +
              msg(XS_WRITE, std::string("dev/x\0"
                                        "1",
                                        7)) +
              msg(XS_SET_PERMS, std::string("dev\0n5\0r6\0", 11)) +
              msg(XS_GET_PERMS, std::string("dev\0", 4)) +
              msg(XS_DIRECTORY_PART, std::string("/local/domain/5\0"
                                                 "0\0",
                                                 18))),
        bytes(std::string("\x02\x03", 2) +
              msg(XS_READ, std::string("/local/domain/5/dev/x\0", 22)) +
              msg(XS_MKDIR, std::string("/local/domain/5/q\0", 18)) + msg(XS_RESET_WATCHES, "")),
        bytes(prefix + msg(XS_CONTROL, std::string("check\0", 6)) +
              msg(XS_GET_DOMAIN_PATH, std::string("5\0", 2)) +
              msg(XS_IS_DOMAIN_INTRODUCED, std::string("5\0", 2)) +
              msg(XS_RELEASE, std::string("6\0", 2)) + msg(XS_RESUME, std::string("5\0", 2))),
    };
}
