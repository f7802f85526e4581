// Ioreq servers against a thread playing the device model: the shared
// request slot, PCI config decoding, string I/O, the buffered ring, and what
// happens when the device model answers garbage, dies or destroys a server.

#include "test/unit/xen/fake_event_bitmaps.h"
#include "vmm/ioreq/ioreq_servers.h"
#include "vmm/xen/event_channels.h"
#include "vmm/xen/xen_headers.h"

#include <xen/hvm/ioreq.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <poll.h>
#include <set>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace basalt;
using namespace basalt::ioreq;

namespace {

constexpr uint32_t kVcpus = 2;

struct Mapped {
    void* p = MAP_FAILED;
    explicit Mapped(int fd) {
        p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    ~Mapped() {
        if (p != MAP_FAILED)
            ::munmap(p, 4096);
    }
};

// The device model's side of one server: it answers vCPU 0's slot with
// `answer`, which may change the slot (data, state) however it likes.
class FakeDm {
public:
    using Answer = std::function<void(ioreq_t&)>;

    FakeDm(IoreqServers& servers, uint32_t id) : servers_(servers) {
        PageRef page;
        REQUIRE(servers.pageForResource(id, 1, page) == 0);
        ioreqPage_ = std::make_unique<Mapped>(page.fd);
        REQUIRE(ioreqPage_->p != MAP_FAILED);
        if (servers.pageForResource(id, 0, page) == 0)
            bufPage_ = std::make_unique<Mapped>(page.fd);
        IoreqPortFds fds;
        REQUIRE(servers.portFds(slot(0).vp_eport, fds) == 0);
        fromGuest_ = fds.fromGuest;
        toGuest_ = fds.toGuest;
    }
    ~FakeDm() { stopServing(); }

    ioreq_t& slot(uint32_t vcpu) {
        return static_cast<shared_iopage_t*>(ioreqPage_->p)->vcpu_ioreq[vcpu];
    }
    buffered_iopage_t* ring() { return static_cast<buffered_iopage_t*>(bufPage_->p); }

    void serve(Answer answer) {
        answer_ = std::move(answer);
        running_ = true;
        thread_ = std::thread([this] { loop(); });
    }
    void stopServing() {
        running_ = false;
        if (thread_.joinable())
            thread_.join();
    }
    std::vector<ioreq_t> seen() {
        std::lock_guard l(m_);
        return seen_;
    }

private:
    void loop() {
        while (running_) {
            pollfd p{fromGuest_, POLLIN, 0};
            if (::poll(&p, 1, 10) != 1)
                continue;
            uint64_t n;
            [[maybe_unused]] ssize_t r = ::read(fromGuest_, &n, sizeof n);
            ioreq_t& req = slot(0);
            if (std::atomic_ref<uint8_t>(reinterpret_cast<uint8_t*>(&req)[30]).load() % 16 !=
                STATE_IOREQ_READY)
                continue;
            {
                std::lock_guard l(m_);
                seen_.push_back(req);
            }
            req.state = STATE_IOREQ_INPROCESS;
            answer_(req);
            std::atomic_thread_fence(std::memory_order_release);
            uint64_t one = 1;
            [[maybe_unused]] ssize_t w = ::write(toGuest_, &one, sizeof one);
        }
    }

    IoreqServers& servers_;
    std::unique_ptr<Mapped> ioreqPage_, bufPage_;
    int fromGuest_ = -1, toGuest_ = -1;
    Answer answer_;
    std::atomic<bool> running_{false};
    std::thread thread_;
    std::mutex m_;
    std::vector<ioreq_t> seen_;
};

struct Fixture {
    std::vector<std::string> crashes;
    std::mutex m;
    std::unique_ptr<IoreqServers> servers;
    uint32_t id = 0;

    explicit Fixture(uint32_t bufMode = HVM_IOREQSRV_BUFIOREQ_ATOMIC,
                     xen::EventChannels* channels = nullptr) {
        IoreqConfig config;
        config.vcpuCount = kVcpus;
        config.channels = channels;
        config.crash = [this](const std::string& why) {
            std::lock_guard l(m);
            crashes.push_back(why);
        };
        servers = IoreqServers::create(config).value();
        REQUIRE(servers->createServer(bufMode, id) == 0);
    }
    std::string lastCrash() {
        std::lock_guard l(m);
        return crashes.empty() ? "" : crashes.back();
    }
};

void answerData(ioreq_t& req, uint64_t data) {
    req.data = data;
    req.state = STATE_IORESP_READY;
}

} // namespace

TEST_CASE("a port read goes to the device model and comes back", "[devmodel][ioreq]") {
    Fixture f;
    REQUIRE(f.servers->mapRange(f.id, RangeType::Port, 0x3F8, 0x3FF) == 0);
    FakeDm dm(*f.servers, f.id);
    dm.serve([](ioreq_t& req) { answerData(req, 0x60); });

    uint8_t value = 0;
    // Disabled servers claim nothing.
    CHECK(f.servers->handlePio(0, 0x3FD, 1, false, 1, &value) == Outcome::Unclaimed);
    REQUIRE(f.servers->setState(f.id, true) == 0);
    CHECK(f.servers->handlePio(0, 0x3FD, 1, false, 1, &value) == Outcome::Handled);
    CHECK(value == 0x60);
    // A 2-byte access at 0x3FF leaves the range: not this server's.
    uint8_t wide[2];
    CHECK(f.servers->handlePio(0, 0x3FF, 2, false, 1, wide) == Outcome::Unclaimed);
    dm.stopServing();

    auto seen = dm.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].addr == 0x3FD);
    CHECK(seen[0].size == 1);
    CHECK(seen[0].count == 1);
    CHECK(seen[0].dir == IOREQ_READ);
    CHECK(seen[0].type == IOREQ_TYPE_PIO);
    CHECK(seen[0].data_is_ptr == 0);
    CHECK(dm.slot(0).state == STATE_IOREQ_NONE);
    CHECK(f.crashes.empty());
}

TEST_CASE("PCI config data cycles carry Xen's sbdf << 32 | register", "[devmodel][ioreq]") {
    Fixture f;
    uint64_t sbdf = IoreqServers::sbdf(0, 0, 3, 0);
    REQUIRE(f.servers->mapRange(f.id, RangeType::Pci, sbdf, sbdf) == 0);
    REQUIRE(f.servers->mapRange(f.id, RangeType::Port, 0xCF8, 0xCFF) == 0);
    REQUIRE(f.servers->setState(f.id, true) == 0);
    FakeDm dm(*f.servers, f.id);
    dm.serve([](ioreq_t& req) { answerData(req, req.dir == IOREQ_READ ? 0x1234 : 0); });

    // CF8 is latched and still forwarded as a port write.
    uint32_t cf8 = 0x80000000u | (3u << 11) | 0x10;
    CHECK(f.servers->handlePio(0, 0xCF8, 4, true, 1, reinterpret_cast<uint8_t*>(&cf8)) ==
          Outcome::Handled);
    CHECK(f.servers->cf8() == cf8);
    uint16_t value = 0;
    CHECK(f.servers->handlePio(0, 0xCFE, 2, false, 1, reinterpret_cast<uint8_t*>(&value)) ==
          Outcome::Handled);
    CHECK(value == 0x1234);
    // Enable bit clear: an ordinary port access.
    uint32_t off = cf8 & ~0x80000000u;
    CHECK(f.servers->handlePio(0, 0xCF8, 4, true, 1, reinterpret_cast<uint8_t*>(&off)) ==
          Outcome::Handled);
    CHECK(f.servers->handlePio(0, 0xCFC, 2, false, 1, reinterpret_cast<uint8_t*>(&value)) ==
          Outcome::Handled);
    // Another device's config space is nobody's.
    uint32_t other = 0x80000000u | (5u << 11);
    CHECK(f.servers->handlePio(0, 0xCF8, 4, true, 1, reinterpret_cast<uint8_t*>(&other)) ==
          Outcome::Handled);
    CHECK(f.servers->handlePio(0, 0xCFC, 4, false, 1, reinterpret_cast<uint8_t*>(&cf8)) ==
          Outcome::Unclaimed);
    dm.stopServing();

    auto seen = dm.seen();
    REQUIRE(seen.size() == 5);
    CHECK(seen[0].type == IOREQ_TYPE_PIO);
    CHECK(seen[0].addr == 0xCF8);
    CHECK(seen[0].data == cf8);
    CHECK(seen[1].type == IOREQ_TYPE_PCI_CONFIG);
    CHECK(seen[1].addr == ((sbdf << 32) | 0x12));
    CHECK(seen[1].size == 2);
    CHECK(seen[3].type == IOREQ_TYPE_PIO);
    CHECK(seen[3].addr == 0xCFC);
}

TEST_CASE("string port output sends one ioreq per item", "[devmodel][ioreq]") {
    Fixture f;
    REQUIRE(f.servers->mapRange(f.id, RangeType::Port, 0x1F0, 0x1F7) == 0);
    REQUIRE(f.servers->setState(f.id, true) == 0);
    FakeDm dm(*f.servers, f.id);
    dm.serve([](ioreq_t& req) { answerData(req, req.dir == IOREQ_READ ? 0xBEEF : 0); });
    uint16_t out[3] = {0x1111, 0x2222, 0x3333};
    CHECK(f.servers->handlePio(0, 0x1F0, 2, true, 3, reinterpret_cast<uint8_t*>(out)) ==
          Outcome::Handled);
    uint16_t in[2] = {};
    CHECK(f.servers->handlePio(0, 0x1F0, 2, false, 2, reinterpret_cast<uint8_t*>(in)) ==
          Outcome::Handled);
    CHECK(in[0] == 0xBEEF);
    CHECK(in[1] == 0xBEEF);
    dm.stopServing();
    auto seen = dm.seen();
    REQUIRE(seen.size() == 5);
    for (int i = 0; i < 3; ++i) {
        CHECK(seen[i].data == out[i]);
        CHECK(seen[i].dir == IOREQ_WRITE);
        CHECK(seen[i].count == 1);
    }
}

TEST_CASE("VGA window writes are posted to the buffered ring", "[devmodel][ioreq]") {
    Fixture f;
    REQUIRE(f.servers->mapRange(f.id, RangeType::Memory, 0xA0000, 0xBFFFF) == 0);
    REQUIRE(f.servers->setState(f.id, true) == 0);
    FakeDm dm(*f.servers, f.id);
    PageRef page;
    REQUIRE(f.servers->pageForResource(f.id, 0, page) == 0);
    IoreqPortFds bufFds;
    ServerInfo info;
    REQUIRE(f.servers->getInfo(f.id, true, info) == 0);
    REQUIRE(f.servers->portFds(info.bufioreqPort, bufFds) == 0);

    uint64_t qword = 0x1122334455667788ull;
    CHECK(f.servers->handleMmio(0, 0xA0010, 8, true, reinterpret_cast<uint8_t*>(&qword)) ==
          Outcome::Handled);
    uint32_t dword = 0xCAFEBABE;
    CHECK(f.servers->handleMmio(0, 0xA0020, 4, true, reinterpret_cast<uint8_t*>(&dword)) ==
          Outcome::Handled);
    buffered_iopage_t* ring = dm.ring();
    CHECK(ring->read_pointer == 0);
    CHECK(ring->write_pointer == 3);
    CHECK(ring->buf_ioreq[0].type == IOREQ_TYPE_COPY);
    CHECK(ring->buf_ioreq[0].size == 3);
    CHECK(ring->buf_ioreq[0].addr == 0xA0010);
    CHECK(ring->buf_ioreq[0].data == 0x55667788u);
    CHECK(ring->buf_ioreq[1].data == 0x11223344u);
    CHECK(ring->buf_ioreq[2].size == 2);
    CHECK(ring->buf_ioreq[2].data == 0xCAFEBABEu);
    pollfd p{bufFds.fromGuest, POLLIN, 0};
    CHECK(::poll(&p, 1, 0) == 1);

    // The time offset rides the same ring, as two slots.
    f.servers->broadcastTimeOffset(-3600);
    CHECK(ring->write_pointer == 5);
    CHECK(ring->buf_ioreq[3].type == IOREQ_TYPE_TIMEOFFSET);
    CHECK(static_cast<int64_t>((uint64_t{ring->buf_ioreq[4].data} << 32) |
                               ring->buf_ioreq[3].data) == -3600);
    CHECK(dm.seen().empty());

    SECTION("a full ring falls back to a synchronous request") {
        dm.serve([](ioreq_t& req) { answerData(req, 0); });
        uint8_t byte = 7;
        while (ring->write_pointer - ring->read_pointer < IOREQ_BUFFER_SLOT_NUM - 1)
            REQUIRE(f.servers->handleMmio(0, 0xA0000, 1, true, &byte) == Outcome::Handled);
        CHECK(dm.seen().empty());
        // 510 used: an 8-byte write needs two slots, so it goes synchronously.
        CHECK(f.servers->handleMmio(0, 0xA0008, 8, true, reinterpret_cast<uint8_t*>(&qword)) ==
              Outcome::Handled);
        dm.stopServing();
        auto seen = dm.seen();
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].addr == 0xA0008);
        CHECK(seen[0].size == 8);
        CHECK(seen[0].data == qword);
        CHECK(ring->write_pointer - ring->read_pointer == IOREQ_BUFFER_SLOT_NUM - 1);
    }
    SECTION("atomic mode rebases the pointers once the reader passed a lap") {
        ring->read_pointer = ring->write_pointer; // the device model consumed everything
        uint8_t byte = 1;
        for (int i = 0; i < 600; ++i) {
            REQUIRE(f.servers->handleMmio(0, 0xA0000, 1, true, &byte) == Outcome::Handled);
            ring->read_pointer = ring->write_pointer;
        }
        CHECK(ring->read_pointer < IOREQ_BUFFER_SLOT_NUM * 2);
    }
}

TEST_CASE("garbage from the device model crashes the guest, never the core", "[devmodel][ioreq]") {
    Fixture f;
    REQUIRE(f.servers->mapRange(f.id, RangeType::Port, 0x60, 0x64) == 0);
    REQUIRE(f.servers->setState(f.id, true) == 0);
    FakeDm dm(*f.servers, f.id);
    uint8_t value = 0;

    SECTION("an impossible state") {
        dm.serve([](ioreq_t& req) { req.state = 9; });
        CHECK(f.servers->handlePio(0, 0x60, 1, false, 1, &value) == Outcome::Failed);
        CHECK(f.lastCrash().find("garbage") != std::string::npos);
    }
    SECTION("a changed size") {
        dm.serve([](ioreq_t& req) {
            req.size = 4;
            req.state = STATE_IORESP_READY;
        });
        CHECK(f.servers->handlePio(0, 0x60, 1, false, 1, &value) == Outcome::Failed);
        CHECK(f.lastCrash().find("changed") != std::string::npos);
    }
    SECTION("a slot left busy") {
        dm.slot(0).state = STATE_IOREQ_INPROCESS;
        CHECK(f.servers->handlePio(0, 0x60, 1, false, 1, &value) == Outcome::Failed);
        CHECK(f.lastCrash().find("busy") != std::string::npos);
    }
    CHECK(f.lastCrash().rfind("device model", 0) == 0);
}

TEST_CASE("a dead device model releases the waiting vCPU", "[devmodel][ioreq]") {
    Fixture f;
    REQUIRE(f.servers->mapRange(f.id, RangeType::Memory, 0xFEBF0000, 0xFEBFFFFF) == 0);
    REQUIRE(f.servers->setState(f.id, true) == 0);
    FakeDm dm(*f.servers, f.id); // never answers

    SECTION("death") {
        std::thread killer([&] {
            while (dm.slot(0).state != STATE_IOREQ_READY)
                std::this_thread::yield();
            f.servers->release("exited with status 1");
        });
        uint32_t value = 0;
        CHECK(f.servers->handleMmio(0, 0xFEBF0000, 4, false, reinterpret_cast<uint8_t*>(&value)) ==
              Outcome::Failed);
        killer.join();
        CHECK(f.lastCrash() == "device model exited with status 1");
        // Every later request fails at once.
        CHECK(f.servers->handleMmio(1, 0xFEBF0000, 4, false, reinterpret_cast<uint8_t*>(&value)) ==
              Outcome::Failed);
    }
    SECTION("the server destroyed under the request") {
        std::thread killer([&] {
            while (dm.slot(0).state != STATE_IOREQ_READY)
                std::this_thread::yield();
            CHECK(f.servers->destroyServer(f.id) == 0);
        });
        uint32_t value = 0;
        CHECK(f.servers->handleMmio(0, 0xFEBF0000, 4, false, reinterpret_cast<uint8_t*>(&value)) ==
              Outcome::Failed);
        killer.join();
        CHECK(f.lastCrash().find("destroyed ioreq server") != std::string::npos);
        CHECK(f.servers->handleMmio(0, 0xFEBF0000, 4, false, reinterpret_cast<uint8_t*>(&value)) ==
              Outcome::Unclaimed);
    }
}

TEST_CASE("an invalidate goes out before the next request", "[devmodel][ioreq]") {
    Fixture f;
    REQUIRE(f.servers->mapRange(f.id, RangeType::Port, 0x80, 0x80) == 0);
    REQUIRE(f.servers->setState(f.id, true) == 0);
    FakeDm dm(*f.servers, f.id);
    dm.serve([](ioreq_t& req) { answerData(req, 0); });
    f.servers->broadcastInvalidate();
    uint8_t b = 1;
    CHECK(f.servers->handlePio(0, 0x80, 1, true, 1, &b) == Outcome::Handled);
    CHECK(f.servers->handlePio(0, 0x80, 1, true, 1, &b) == Outcome::Handled);
    dm.stopServing();
    auto seen = dm.seen();
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].type == IOREQ_TYPE_INVALIDATE);
    CHECK(seen[0].data == ~uint64_t{0});
    CHECK(seen[1].type == IOREQ_TYPE_PIO);
    CHECK(seen[2].type == IOREQ_TYPE_PIO);
}

TEST_CASE("server table: limits, ranges and modes as Xen", "[devmodel][ioreq]") {
    Fixture f(HVM_IOREQSRV_BUFIOREQ_OFF);
    uint32_t id;
    CHECK(f.servers->createServer(3, id) == EINVAL);
    ServerInfo info;
    REQUIRE(f.servers->getInfo(f.id, true, info) == 0);
    CHECK(info.ioreqGfn == kIoreqGfnBase + 2 * f.id);
    CHECK(info.bufioreqGfn == 0);
    CHECK(info.bufioreqPort == 0);
    PageRef page;
    CHECK(f.servers->pageForResource(f.id, 0, page) == EINVAL); // no buffered page
    CHECK(f.servers->pageForResource(f.id, 2, page) == EINVAL);
    CHECK(f.servers->pageForGfn(info.ioreqGfn, page) == 0);
    CHECK(f.servers->pageForGfn(0x1000, page) == ENOENT);

    CHECK(f.servers->mapRange(f.id, RangeType::Port, 0x10, 0x1F) == 0);
    CHECK(f.servers->mapRange(f.id, RangeType::Port, 0x18, 0x20) == EEXIST);
    CHECK(f.servers->mapRange(f.id, RangeType::Port, 0x20, 0x10) == EINVAL);
    CHECK(f.servers->mapRange(f.id, static_cast<RangeType>(3), 0, 1) == EINVAL);
    CHECK(f.servers->mapRange(99, RangeType::Port, 0, 1) == ENOENT);
    // Unmapping the middle splits the claim.
    CHECK(f.servers->unmapRange(f.id, RangeType::Port, 0x14, 0x15) == 0);
    CHECK(f.servers->unmapRange(f.id, RangeType::Port, 0x14, 0x14) == ENOENT);
    CHECK(f.servers->mapRange(f.id, RangeType::Port, 0x14, 0x15) == 0);

    for (uint32_t i = 1; i < kMaxServers; ++i)
        REQUIRE(f.servers->createServer(HVM_IOREQSRV_BUFIOREQ_LEGACY, id) == 0);
    CHECK(f.servers->createServer(HVM_IOREQSRV_BUFIOREQ_OFF, id) == ENOSPC);
    CHECK(f.servers->destroyServer(3) == 0);
    CHECK(f.servers->destroyServer(3) == ENOENT);
    CHECK(f.servers->createServer(HVM_IOREQSRV_BUFIOREQ_OFF, id) == 0);
    CHECK(id == 3);
}

TEST_CASE("ioreq ports are unique guest event-channel ports", "[devmodel][ioreq]") {
    xen::test::FakeEventBitmaps bits(kVcpus);
    xen::EventChannels channels(
        {1, kVcpus, 1023}, bits, [](uint32_t) {}, [] {});
    Fixture f(HVM_IOREQSRV_BUFIOREQ_ATOMIC, &channels);
    uint32_t second;
    REQUIRE(f.servers->createServer(HVM_IOREQSRV_BUFIOREQ_ATOMIC, second) == 0);
    std::set<uint32_t> ports;
    for (uint32_t id : {f.id, second}) {
        PageRef page;
        REQUIRE(f.servers->pageForResource(id, 1, page) == 0);
        Mapped m(page.fd);
        auto* shared = static_cast<shared_iopage_t*>(m.p);
        for (uint32_t v = 0; v < kVcpus; ++v)
            ports.insert(shared->vcpu_ioreq[v].vp_eport);
        ServerInfo info;
        REQUIRE(f.servers->getInfo(id, true, info) == 0);
        ports.insert(info.bufioreqPort);
    }
    CHECK(ports.size() == 2 * (kVcpus + 1));
    CHECK(ports.count(0) == 0);
    // The guest cannot allocate or close them.
    int fresh = channels.allocUnbound(DOMID_SELF, 0);
    CHECK(fresh > 0);
    CHECK(ports.count(static_cast<uint32_t>(fresh)) == 0);
    CHECK(channels.close(*ports.begin()) < 0);
}
