#pragma once
// The domain's connection to xenstored (--xenstore PATH), set up the way
// libxl and Xen's domain builder do it for an HVM guest:
//
//   1. the store page: special pfn SPECIALPAGE_XENSTORE (0xFEFFC, in the
//      special-page block below 0xFF000 that xg_dom_x86.c fills), mapped as
//      host-owned memory and marked reserved in the E820 XENMEM_memory_map
//      returns;
//   2. the store event channel: a guest port bound to a host (dom0) port;
//   3. HVM_PARAM_STORE_PFN / HVM_PARAM_STORE_EVTCHN for the guest to find them;
//   4. the home path /local/domain/<domid> owned by the guest, with `domid`,
//      `name` and `vm` (-> /vm/<uuid>, owned by dom0, readable by the guest);
//   5. XS_INTRODUCE with the page (memfd + offset) and the two eventfds as
//      SCM_RIGHTS, over a connection this link keeps open: if basalt-vmm dies,
//      xenstored sees the socket close and releases the domain.
//
// stop() (or destruction) sends XS_RELEASE and removes what step 4 wrote.
// The link must be destroyed before its Domain (it holds a host port).
//
// xenstored restarting: a monitor thread sees the socket close, connects
// again (retrying until the daemon is back), rewrites the domain's keys only
// if the store lost them (no --persist), and introduces the same ring again;
// a daemon with --persist gives the ring its watches back (docs/xenstore.md).

#include "base/result.h"
#include "base/unique_fd.h"
#include "toolstack/xs_client/xs_client.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace basalt {

class Domain;
namespace xen {
class HostPort;
}

// xg_dom_x86.c: special pages end at pfn 0xff000, 8 of them, xenstore is 4th.
inline constexpr uint64_t kSpecialPagesEnd = 0xff000;
inline constexpr uint64_t kSpecialPageCount = 8;
inline constexpr uint64_t kSpecialPageXenstore = 4;
inline constexpr uint64_t kStorePfn = kSpecialPagesEnd - kSpecialPageCount + kSpecialPageXenstore;

class XenstoreLink {
public:
    struct Config {
        std::string socketPath;
        uint16_t domid = 1;
        std::string name;
        std::string uuid; // the domain's (formatDomainUuid); required
        // Further keys below the home path (relative path, value), written
        // with the others: what hvmloader reads (firmware/hvmloader_keys.h).
        std::vector<std::pair<std::string, std::string>> extraKeys;
        // false for hvmloader guests: hvmloader reserves the special pages
        // itself, and libxl's memory map leaves them out.
        bool reserveStorePage = true;
    };

    // Before the vCPUs start: the guest reads the HVM params at boot.
    static Result<std::unique_ptr<XenstoreLink>> start(Domain& domain, const Config& config);
    ~XenstoreLink();
    XenstoreLink(const XenstoreLink&) = delete;
    XenstoreLink& operator=(const XenstoreLink&) = delete;

    // Releases the domain and removes its keys; idempotent.
    void stop();

    uint64_t storePfn() const { return kStorePfn; }
    uint32_t storePort() const;
    const std::string& homePath() const { return home_; }
    const std::string& vmPath() const { return vmPath_; }

private:
    XenstoreLink(xs::Client client, const Config& config);
    Status writeDomainKeys();
    Status introduce();
    void monitor();
    // Waits up to `ms` for stop(); true if stopping.
    bool waitStop(int ms);

    xs::Client client_;
    Config config_;
    std::string home_;
    std::string vmPath_;
    std::unique_ptr<xen::HostPort> port_;
    int pageFd_ = -1; // the PhysMap's; outlives the link
    uint64_t pageOffset_ = 0;
    bool introduced_ = false;
    bool stopped_ = false;
    UniqueFd stopEvent_;
    std::thread monitor_;
};

} // namespace basalt
