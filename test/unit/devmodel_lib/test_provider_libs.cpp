// The provider libraries against an in-test device-model host (fake_dm_host.h):
// the Xen API as QEMU calls it, the wire underneath.

// xenctrl.h first (it enables the tools-only parts of Xen's headers) and in
// GNU C++ (meson.build says so). Xen's headers have no extern "C" of their own.
extern "C" {
#include <xenctrl.h>
}

#include "test/unit/devmodel_lib/fake_dm_host.h"

#include <catch2/catch.hpp>

extern "C" {
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xentoolcore.h>
}

#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/mman.h>
#include <vector>

using namespace basalt::devmodel::test;
using basalt::devmodel::DmOp;

namespace {

uint64_t firstWord(const void* page) {
    uint64_t value;
    memcpy(&value, page, sizeof(value));
    return value;
}

uint8_t* pageAt(void* base, size_t index) {
    return static_cast<uint8_t*>(base) + index * kPage;
}

bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

} // namespace

TEST_CASE("foreign map of non-contiguous pfns with per-page errors") {
    FakeDmHost& host = FakeDmHost::instance();
    xenforeignmemory_handle* fmem = xenforeignmemory_open(nullptr, 0);
    REQUIRE(fmem);

    // Two runs (3-4, 10-11), a lone page (40) and a hole in between.
    const xen_pfn_t pfns[] = {3, 4, 10, kRamPages + 5, 11, 40};
    const size_t n = std::size(pfns);
    std::vector<int> err(n, 12345);
    void* map = xenforeignmemory_map(fmem, kDomid, PROT_READ | PROT_WRITE, n, pfns, err.data());
    REQUIRE(map);
    for (size_t i = 0; i < n; ++i) {
        if (pfns[i] >= kRamPages) {
            CHECK(err[i] == -kHoleErrno);
            continue;
        }
        CHECK(err[i] == 0);
        CHECK(firstWord(pageAt(map, i)) == FakeDmHost::ramPattern(pfns[i]));
    }
    // MAP_SHARED on the RAM fd: a write is the guest's memory.
    const uint64_t marker = 0xabcdef;
    memcpy(pageAt(map, 5) + 8, &marker, sizeof(marker));
    uint64_t seen = 0;
    REQUIRE(pread(host.ramFd(), &seen, sizeof(seen), 40 * kPage + 8) == sizeof(seen));
    CHECK(seen == marker);
    CHECK(xenforeignmemory_unmap(fmem, map, n) == 0);

    // The RAM fd travels once per connection, however many maps follow.
    const xen_pfn_t again[] = {0};
    void* second = xenforeignmemory_map2(fmem, kDomid, nullptr, PROT_READ, 0, 1, again, nullptr);
    REQUIRE(second);
    CHECK(firstWord(second) == FakeDmHost::ramPattern(0));
    CHECK(host.fdsSentForRam() == 1);
    CHECK(xenforeignmemory_unmap(fmem, second, 1) == 0);

    // Without err[], one bad page fails the whole call with its errno.
    errno = 0;
    CHECK(xenforeignmemory_map(fmem, kDomid, PROT_READ, n, pfns, nullptr) == nullptr);
    CHECK(errno == kHoleErrno);

    // A map bigger than one packet is split and still lands in one range.
    std::vector<xen_pfn_t> many(20000);
    for (size_t i = 0; i < many.size(); ++i)
        many[i] = i % kRamPages;
    void* big = xenforeignmemory_map(fmem, kDomid, PROT_READ, many.size(), many.data(), nullptr);
    REQUIRE(big);
    for (size_t i : {size_t{0}, size_t{8191}, size_t{16383}, size_t{19999}})
        CHECK(firstWord(pageAt(big, i)) == FakeDmHost::ramPattern(many[i]));
    CHECK(xenforeignmemory_unmap(fmem, big, many.size()) == 0);

    CHECK(xenforeignmemory_close(fmem) == 0);
}

TEST_CASE("event channels: one epoll fd multiplexes two ports, notify reaches the host") {
    FakeDmHost& host = FakeDmHost::instance();
    xenevtchn_handle* xce = xenevtchn_open(nullptr, 0);
    REQUIRE(xce);
    const int fd = xenevtchn_fd(xce);
    REQUIRE(fd >= 0);

    const xenevtchn_port_or_error_t a = xenevtchn_bind_interdomain(xce, kDomid, 30);
    const xenevtchn_port_or_error_t b = xenevtchn_bind_interdomain(xce, kDomid, 31);
    REQUIRE(a >= 0);
    REQUIRE(b >= 0);
    CHECK(a != b);
    CHECK(host.remotePortOf(a) == 30);
    CHECK(host.remotePortOf(b) == 31);
    CHECK_FALSE(readable(fd));

    host.signalPort(b);
    CHECK(readable(fd));
    CHECK(xenevtchn_pending(xce) == b);
    CHECK(xenevtchn_unmask(xce, b) == 0);
    CHECK_FALSE(readable(fd)); // pending() consumed the signal

    // Two signals on one port are one pending event, as with a Xen port.
    host.signalPort(a);
    host.signalPort(a);
    CHECK(xenevtchn_pending(xce) == a);
    CHECK_FALSE(readable(fd));

    // Both ports ready: each comes out once.
    host.signalPort(a);
    host.signalPort(b);
    xenevtchn_port_or_error_t first = xenevtchn_pending(xce);
    xenevtchn_port_or_error_t second = xenevtchn_pending(xce);
    CHECK(((first == a && second == b) || (first == b && second == a)));

    // Non-blocking fd and nothing pending: -1/EAGAIN rather than a hang.
    REQUIRE(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
    errno = 0;
    CHECK(xenevtchn_pending(xce) == -1);
    CHECK(errno == EAGAIN);

    CHECK(xenevtchn_notify(xce, a) == 0);
    CHECK(xenevtchn_notify(xce, a) == 0);
    CHECK(host.takeNotifies(a) == 2);
    CHECK(host.takeNotifies(b) == 0);
    errno = 0;
    CHECK(xenevtchn_notify(xce, 999) == -1);
    CHECK(errno == ENOTCONN);

    CHECK(xenevtchn_unbind(xce, a) == 0);
    CHECK_FALSE(host.portBound(a));
    errno = 0;
    CHECK(xenevtchn_notify(xce, a) == -1);
    CHECK(errno == ENOTCONN);
    CHECK(xenevtchn_close(xce) == 0); // unbinds b too
    CHECK_FALSE(host.portBound(b));
}

TEST_CASE("grant copy in both directions, per-segment status") {
    FakeDmHost& host = FakeDmHost::instance();
    xengnttab_handle* xgt = xengnttab_open(nullptr, 0);
    REQUIRE(xgt);

    char hello[] = "hello, guest";
    char back[sizeof(hello)] = {};
    char unused[8] = {};
    xengnttab_grant_copy_segment_t segs[4] = {};
    segs[0].source.virt = hello; // local -> grant 2 at offset 100
    segs[0].dest.foreign = {2, 100, kDomid};
    segs[0].len = sizeof(hello);
    segs[0].flags = GNTCOPY_dest_gref;
    segs[1].source.foreign = {2, 100, kDomid}; // grant 2 -> local
    segs[1].dest.virt = back;
    segs[1].len = sizeof(back);
    segs[1].flags = GNTCOPY_source_gref;
    segs[2].source.foreign = {1, 0, kDomid}; // guest -> guest: refused here
    segs[2].dest.foreign = {2, 0, kDomid};
    segs[2].len = 8;
    segs[2].flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
    segs[3].source.foreign = {99, 0, kDomid}; // a ref the host does not know
    segs[3].dest.virt = unused;
    segs[3].len = sizeof(unused);
    segs[3].flags = GNTCOPY_source_gref;
    for (auto& s : segs)
        s.status = 1;

    REQUIRE(xengnttab_grant_copy(xgt, 4, segs) == 0);
    CHECK(segs[0].status == GNTST_okay);
    CHECK(segs[1].status == GNTST_okay);
    CHECK(segs[2].status == GNTST_general_error);
    CHECK(segs[3].status == GNTST_bad_gntref);
    CHECK(std::string(back) == hello);
    CHECK(memcmp(host.grantPage(2) + 100, hello, sizeof(hello)) == 0);

    // More bytes than one packet: whole pages into every grant, then back.
    constexpr size_t kSegs = 40;
    std::vector<std::vector<uint8_t>> pages(kSegs, std::vector<uint8_t>(kPage));
    std::vector<xengnttab_grant_copy_segment_t> big(kSegs);
    for (size_t i = 0; i < kSegs; ++i) {
        memset(pages[i].data(), static_cast<int>(i), kPage);
        big[i].source.virt = pages[i].data();
        big[i].dest.foreign = {static_cast<uint32_t>(1 + i % kGrantPages), 0, kDomid};
        big[i].len = kPage;
        big[i].flags = GNTCOPY_dest_gref;
    }
    REQUIRE(xengnttab_grant_copy(xgt, kSegs, big.data()) == 0);
    for (size_t ref = 1; ref <= kGrantPages; ++ref)
        CHECK(host.grantPage(static_cast<uint32_t>(ref))[kPage - 1] ==
              static_cast<uint8_t>(kSegs - kGrantPages + ref - 1));
    std::vector<std::vector<uint8_t>> read(kSegs, std::vector<uint8_t>(kPage));
    for (size_t i = 0; i < kSegs; ++i) {
        big[i].source.foreign = {static_cast<uint32_t>(1 + i % kGrantPages), 0, kDomid};
        big[i].dest.virt = read[i].data();
        big[i].flags = GNTCOPY_source_gref;
    }
    REQUIRE(xengnttab_grant_copy(xgt, kSegs, big.data()) == 0);
    for (size_t i = 0; i < kSegs; ++i) {
        CHECK(big[i].status == GNTST_okay);
        CHECK(read[i][0] == host.grantPage(static_cast<uint32_t>(1 + i % kGrantPages))[0]);
    }

    // A segment past its page, or local on both sides, fails the whole call.
    xengnttab_grant_copy_segment_t bad = {};
    bad.source.virt = hello;
    bad.dest.foreign = {1, 4000, kDomid};
    bad.len = 200;
    bad.flags = GNTCOPY_dest_gref;
    errno = 0;
    CHECK(xengnttab_grant_copy(xgt, 1, &bad) == -1);
    CHECK(errno == EINVAL);
    bad.dest.virt = back;
    bad.flags = 0;
    errno = 0;
    CHECK(xengnttab_grant_copy(xgt, 1, &bad) == -1);
    CHECK(errno == EINVAL);

    CHECK(xengnttab_close(xgt) == 0);
}

TEST_CASE("grant maps: pages shared with the grant, unmapped through the host") {
    FakeDmHost& host = FakeDmHost::instance();
    xengnttab_handle* xgt = xengnttab_open(nullptr, 0);
    REQUIRE(xgt);
    uint32_t refs[] = {3, 1};
    void* map = xengnttab_map_domain_grant_refs(xgt, 2, kDomid, refs, PROT_READ | PROT_WRITE);
    REQUIRE(map);
    CHECK(host.liveGrantMaps() == 1);
    memcpy(pageAt(map, 0), "three", 6);
    memcpy(pageAt(map, 1), "one", 4);
    CHECK(memcmp(host.grantPage(3), "three", 6) == 0);
    CHECK(memcmp(host.grantPage(1), "one", 4) == 0);

    // All or none: one bad ref fails the map and leaves nothing behind.
    uint32_t bad[] = {2, 77};
    errno = 0;
    CHECK(xengnttab_map_domain_grant_refs(xgt, 2, kDomid, bad, PROT_READ) == nullptr);
    CHECK(errno == EINVAL);
    CHECK(host.liveGrantMaps() == 1);

    // The limit counts pages this handle holds.
    CHECK(xengnttab_set_max_grants(xgt, 3) == 0);
    errno = 0;
    CHECK(xengnttab_map_domain_grant_refs(xgt, 2, kDomid, refs, PROT_READ) == nullptr);
    CHECK(errno == ENOMEM);

    errno = 0;
    CHECK(xengnttab_unmap(xgt, map, 1) == -1); // not the count it was mapped with
    CHECK(errno == EINVAL);
    CHECK(xengnttab_unmap(xgt, map, 2) == 0);
    CHECK(host.liveGrantMaps() == 0);

    void* again = xengnttab_map_domain_grant_refs(xgt, 2, kDomid, refs, PROT_READ);
    REQUIRE(again);
    CHECK(host.liveGrantMaps() == 1);
    CHECK(xengnttab_close(xgt) == 0); // releases what the handle still maps
    CHECK(host.liveGrantMaps() == 0);
}

TEST_CASE("errors come back as -1 with the host's errno") {
    FakeDmHost& host = FakeDmHost::instance();
    xc_interface* xch = xc_interface_open(nullptr, nullptr, 0);
    REQUIRE(xch);
    xendevicemodel_handle* dmod = xendevicemodel_open(nullptr, 0);
    REQUIRE(dmod);
    xenforeignmemory_handle* fmem = xenforeignmemory_open(nullptr, 0);
    REQUIRE(fmem);

    unsigned long value = 0;
    CHECK(xc_get_hvm_param(xch, kDomid, kKnownHvmParam, &value) == 0);
    CHECK(value == kKnownHvmParamValue);
    errno = 0;
    CHECK(xc_get_hvm_param(xch, kDomid, kKnownHvmParam + 1, &value) == -1);
    CHECK(errno == EINVAL);

    ioservid_t id = 77;
    CHECK(xendevicemodel_create_ioreq_server(dmod, kDomid, 1, &id) == 0);
    CHECK(id == 0);
    CHECK(xendevicemodel_set_isa_irq_level(dmod, kDomid, 4, 1) == 0);
    CHECK(host.isaIrqLevel(4) == 1);
    errno = 0;
    CHECK(xendevicemodel_inject_msi(dmod, kDomid, 0xfee00000, 0x30) == -1);
    CHECK(errno == ENOSYS); // the fake host does not serve it

    // The connection belongs to domain kDomid: another domid never leaves.
    errno = 0;
    CHECK(xendevicemodel_set_isa_irq_level(dmod, kDomid + 1, 4, 0) == -1);
    CHECK(errno == EPERM);
    CHECK(host.isaIrqLevel(4) == 1);
    CHECK(xentoolcore_restrict_all(kDomid) == 0);
    errno = 0;
    CHECK(xentoolcore_restrict_all(kDomid + 1) == -1);
    CHECK(errno == EPERM);

    void* addr = nullptr;
    errno = 0;
    CHECK(xenforeignmemory_map_resource(fmem, kDomid, XENMEM_resource_ioreq_server, 0, 0, 2, &addr,
                                        PROT_READ | PROT_WRITE, 0) == nullptr);
    CHECK(errno == EOPNOTSUPP);

    // Passthrough is refused loudly.
    int pirq = 0;
    errno = 0;
    CHECK(xc_physdev_map_pirq(xch, kDomid, 10, &pirq) == -1);
    CHECK(errno == EOPNOTSUPP);
    errno = 0;
    CHECK(xc_domain_iomem_permission(xch, kDomid, 0x1000, 1, 1) == -1);
    CHECK(errno == EOPNOTSUPP);

    CHECK(xenforeignmemory_close(fmem) == 0);
    CHECK(xendevicemodel_close(dmod) == 0);
    CHECK(xc_interface_close(xch) == 0);
}
