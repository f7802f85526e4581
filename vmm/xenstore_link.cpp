#include "vmm/xenstore_link.h"

#include "base/log.h"
#include "npt/phys_map.h"
#include "vmm/domain.h"
#include "vmm/xen/event_channels.h"
#include "vmm/xen/host_event_channel.h"
#include "vmm/xen/xen_events.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_memory.h"
#include "vmm/xen/xen_platform.h"

#include <algorithm>
#include <fstream>

namespace basalt {

BASALT_LOG_CATEGORY(XsLink, "xenstore-link");

namespace {

constexpr uint64_t kPageShift = 12;
constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
constexpr char kUuidSource[] = "/proc/sys/kernel/random/uuid";

Result<std::string> randomUuid() {
    std::ifstream in(kUuidSource);
    std::string uuid;
    if (!std::getline(in, uuid) || uuid.empty())
        return makeError(EIO, std::string("cannot read a uuid from ") + kUuidSource);
    return uuid;
}

// Marks [gpa, gpa + size) reserved in the guest's XENMEM_memory_map.
void reserveInE820(xen::XenMemory& memory, uint64_t gpa, uint64_t size) {
    auto map = memory.e820();
    map.push_back({gpa, size, xen::kE820Reserved});
    std::sort(map.begin(), map.end(),
              [](const xen::E820Entry& a, const xen::E820Entry& b) { return a.addr < b.addr; });
    memory.setE820(std::move(map));
}

} // namespace

XenstoreLink::XenstoreLink(xs::Client client, const Config& config)
    : client_(std::move(client)), config_(config), home_(xs::Client::domainPath(config.domid)),
      vmPath_("/vm/" + config.uuid) {}

XenstoreLink::~XenstoreLink() {
    stop();
}

uint32_t XenstoreLink::storePort() const {
    return port_ ? port_->guestPort() : 0;
}

Result<std::unique_ptr<XenstoreLink>> XenstoreLink::start(Domain& domain, const Config& config) {
    Config cfg = config;
    if (cfg.uuid.empty()) {
        auto uuid = randomUuid();
        if (!uuid.ok())
            return uuid.error();
        cfg.uuid = *uuid;
    }
    auto client = xs::Client::connect(cfg.socketPath);
    if (!client.ok())
        return makeError(client.error().code, "xenstore: " + client.error().message);
    std::unique_ptr<XenstoreLink> link(new XenstoreLink(std::move(*client), cfg));

    xen::XenPlatform& xen = domain.xen();
    xen::XenMemory* memory = xen.xenMemory();
    if (!memory)
        return makeError(ENOMEM, "xenstore: the Xen memory layer is missing");
    const uint64_t gpa = kStorePfn << kPageShift;
    auto region = domain.physMap().addDeviceRam(gpa, kPageSize, "xenstore-ring");
    if (!region.ok())
        return makeError(region.error().code,
                         "xenstore: cannot map the store page: " + region.error().message);
    auto info = domain.physMap().region(*region);
    if (!info.ok())
        return info.error();
    reserveInE820(*memory, gpa, kPageSize);

    auto port = xen.events().channels().allocateHostPort({});
    if (!port.ok())
        return makeError(port.error().code,
                         "xenstore: no store event channel: " + port.error().message);
    link->port_ = std::move(*port);
    xen.params().set(HVM_PARAM_STORE_PFN, kStorePfn);
    xen.params().set(HVM_PARAM_STORE_EVTCHN, link->port_->guestPort());

    BASALT_TRY(link->writeDomainKeys());
    auto introduced = link->client_.introduce(
        cfg.domid, kStorePfn, link->port_->guestPort(), info->fd, info->fdOffset,
        link->port_->guestToHostFd(), link->port_->hostToGuestFd());
    if (!introduced.ok())
        return makeError(introduced.error().code,
                         "xenstore: introduce refused: " + introduced.error().message);
    link->introduced_ = true;
    LOG(XsLink, Info, "domain %u introduced: store pfn %#llx, port %u, home %s", cfg.domid,
        static_cast<unsigned long long>(kStorePfn), link->port_->guestPort(), link->home_.c_str());
    return link;
}

// As libxl__domain_make and libxl__build_post write them.
Status XenstoreLink::writeDomainKeys() {
    const uint32_t domid = config_.domid;
    // A previous domain with this id may have left keys behind (killed).
    BASALT_TRY(client_.remove(home_));
    BASALT_TRY(client_.mkdir(home_));
    BASALT_TRY(client_.setPermissions(home_, {xs::Permission{'n', domid}}));
    BASALT_TRY(client_.write(home_ + "/domid", std::to_string(domid)));
    BASALT_TRY(client_.write(home_ + "/name", config_.name));
    BASALT_TRY(client_.write(home_ + "/vm", vmPath_));
    BASALT_TRY(client_.remove(vmPath_));
    BASALT_TRY(client_.mkdir(vmPath_));
    BASALT_TRY(
        client_.setPermissions(vmPath_, {xs::Permission{'n', 0}, xs::Permission{'r', domid}}));
    BASALT_TRY(client_.write(vmPath_ + "/name", config_.name));
    BASALT_TRY(client_.write(vmPath_ + "/uuid", config_.uuid));
    return {};
}

void XenstoreLink::stop() {
    if (stopped_)
        return;
    stopped_ = true;
    if (!client_.connected())
        return; // xenstored went away: it released the domain with our socket
    if (introduced_) {
        auto released = client_.release(config_.domid);
        if (!released.ok() && released.error().code != ENOENT)
            LOG(XsLink, Warn, "release of domain %u: %s", config_.domid,
                released.error().message.c_str());
    }
    for (const std::string& path : {home_, vmPath_})
        if (auto st = client_.remove(path); !st.ok())
            LOG(XsLink, Warn, "removing %s: %s", path.c_str(), st.error().message.c_str());
}

} // namespace basalt
