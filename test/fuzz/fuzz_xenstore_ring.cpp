// Fuzzes RingConnection as a hostile guest would drive it: the input is a
// list of operations on the shared page (append request bytes, consume
// replies, overwrite an index, request a reconnect) each followed by a kick.
// The server must never crash or hang, never write outside the page, and
// keep the store consistent; a second guest must keep working throughout.

#include "test/fuzz/fuzz_seeds.h"
#include "test/unit/xenstore/xs_test_util.h"
#include "toolstack/xenstored/ring_connection.h"

#include <cstdlib>
#include <cstring>

using namespace basalt::xenstore;
using namespace basalt::xenstore::test;

namespace {

struct NullChannel : EventChannel {
    void notify() override {}
};

enum Op : uint8_t {
    kAppend,
    kConsume,
    kSetReqProd,
    kSetReqCons,
    kSetRspCons,
    kSetRspProd,
    kReconnect,
    kOpCount
};

struct Page {
    alignas(4096) uint8_t bytes[kRingPageSize + 64];
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Server server;
    Client d0 = client(server, 0);
    d0.write("/local/domain/9", "");
    d0.call(XS_SET_PERMS, std::string("/local/domain/9\0n9\0", 19));
    auto page = std::make_unique<Page>();
    std::memset(page->bytes + kRingPageSize, 0xa5, 64); // guard
    auto* intf = reinterpret_cast<xenstore_domain_interface*>(page->bytes);
    NullChannel channel;
    auto ring = std::make_shared<RingConnection>(server, 9, page->bytes, channel);
    server.attach(ring);

    size_t off = 0;
    while (off + 2 <= size) {
        uint8_t op = data[off] % kOpCount;
        uint8_t len = data[off + 1];
        off += 2;
        uint32_t value = 0;
        switch (op) {
        case kAppend:
            for (size_t i = 0; i < len && off < size; i++, off++)
                intf->req[MASK_XENSTORE_IDX(intf->req_prod++)] = static_cast<char>(data[off]);
            break;
        case kConsume:
            intf->rsp_cons += std::min<uint32_t>(len * 8u, intf->rsp_prod - intf->rsp_cons);
            break;
        default:
            std::memcpy(&value, data + off, std::min<size_t>(4, size - off));
            off += std::min<size_t>(4, size - off);
            if (op == kSetReqProd)
                intf->req_prod = value;
            else if (op == kSetReqCons)
                intf->req_cons = value;
            else if (op == kSetRspCons)
                intf->rsp_cons = value;
            else if (op == kSetRspProd)
                intf->rsp_prod = value;
            else
                intf->connection = XENSTORE_RECONNECT;
        }
        ring->kicked();
    }
    for (size_t i = 0; i < 64; i++)
        if (page->bytes[kRingPageSize + i] != 0xa5)
            abort();
    if (!server.tree().checkConsistency(nullptr) || d0.write("/alive", "1") != "OK")
        abort();
    return 0;
}

std::vector<std::vector<uint8_t>> basalt::fuzz::seeds() {
    auto append = [](std::vector<uint8_t>& out, const std::string& m) {
        for (size_t i = 0; i < m.size(); i += 255) {
            size_t n = std::min<size_t>(255, m.size() - i);
            out.push_back(kAppend);
            out.push_back(static_cast<uint8_t>(n));
            out.insert(out.end(), m.begin() + i, m.begin() + i + n);
        }
    };
    std::vector<uint8_t> a;
    append(a, encodeMessage(XS_WRITE, 1, 0, std::string("k\0v", 3)));
    append(a, encodeMessage(XS_READ, 2, 0, std::string("k\0", 2)));
    a.insert(a.end(), {kConsume, 255});
    append(a, encodeMessage(XS_WATCH, 3, 0, std::string("k\0t\0", 4)));
    std::vector<uint8_t> b = a;
    b.insert(b.end(), {kSetReqProd, 0, 0x88, 0x13, 0, 0});
    std::vector<uint8_t> c = a;
    c.insert(c.end(), {kReconnect, 0});
    append(c, encodeMessage(XS_GET_DOMAIN_PATH, 4, 0, std::string("9\0", 2)));
    return {a, b, c};
}
