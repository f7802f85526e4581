// The device-model host goes away mid-session: every call fails with an
// errno, none crashes or hangs. (Its own binary: the libraries' connection is
// one per process, and this test kills it.)

#include "test/unit/devmodel_lib/fake_dm_host.h"

#include <catch2/catch.hpp>

extern "C" {
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
}

#include <sys/mman.h>

using namespace basalt::devmodel::test;
using basalt::devmodel::DmOp;

TEST_CASE("a host that closes the socket fails calls with EPIPE") {
    FakeDmHost& host = FakeDmHost::instance();
    xendevicemodel_handle* dmod = xendevicemodel_open(nullptr, 0);
    REQUIRE(dmod);
    xenevtchn_handle* xce = xenevtchn_open(nullptr, 0);
    REQUIRE(xce);
    xenforeignmemory_handle* fmem = xenforeignmemory_open(nullptr, 0);
    REQUIRE(fmem);

    ioservid_t id = 0;
    REQUIRE(xendevicemodel_create_ioreq_server(dmod, kDomid, 1, &id) == 0);
    const xenevtchn_port_or_error_t port = xenevtchn_bind_interdomain(xce, kDomid, 3);
    REQUIRE(port >= 0);

    host.closeOn(DmOp::SetIsaIrqLevel);
    errno = 0;
    CHECK(xendevicemodel_set_isa_irq_level(dmod, kDomid, 1, 1) == -1);
    CHECK(errno == EPIPE);

    // The connection stays dead; nothing waits for a reply that cannot come.
    errno = 0;
    CHECK(xendevicemodel_set_isa_irq_level(dmod, kDomid, 1, 0) == -1);
    CHECK(errno == EPIPE);
    errno = 0;
    CHECK(xenevtchn_bind_interdomain(xce, kDomid, 4) == -1);
    CHECK(errno == EPIPE);
    const xen_pfn_t pfn = 0;
    errno = 0;
    CHECK(xenforeignmemory_map(fmem, kDomid, PROT_READ, 1, &pfn, nullptr) == nullptr);
    CHECK(errno == EPIPE);
    errno = 0;
    CHECK(xenevtchn_unbind(xce, port) == -1);
    CHECK(errno == EPIPE);

    // Closing handles still works and frees what they hold.
    CHECK(xenforeignmemory_close(fmem) == 0);
    CHECK(xenevtchn_close(xce) == 0);
    CHECK(xendevicemodel_close(dmod) == 0);
}
