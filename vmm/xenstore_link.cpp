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
#include <cstring>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace basalt {

BASALT_LOG_CATEGORY(XsLink, "xenstore-link");

namespace {

constexpr uint64_t kPageShift = 12;
constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
// Reconnection attempts after xenstored went away: quick at first, then at
// most once a second.
constexpr int kReconnectFirstMs = 50;
constexpr int kReconnectMaxMs = 1000;

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
    // The spec's UUID (main.cpp makes one before the first build), so /vm/<uuid>
    // stays the same across restarts, as under xl.
    if (config.uuid.empty())
        return makeError(EINVAL, "xenstore: the domain has no UUID");
    const Config& cfg = config;
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
    if (cfg.reserveStorePage)
        reserveInE820(*memory, gpa, kPageSize);

    auto port = xen.events().channels().allocateHostPort({});
    if (!port.ok())
        return makeError(port.error().code,
                         "xenstore: no store event channel: " + port.error().message);
    link->port_ = std::move(*port);
    xen.params().set(HVM_PARAM_STORE_PFN, kStorePfn);
    xen.params().set(HVM_PARAM_STORE_EVTCHN, link->port_->guestPort());

    link->pageFd_ = info->fd;
    link->pageOffset_ = info->fdOffset;
    BASALT_TRY(link->writeDomainKeys());
    BASALT_TRY(link->introduce());
    LOG(XsLink, Info, "domain %u introduced: store pfn %#llx, port %u, home %s", cfg.domid,
        static_cast<unsigned long long>(kStorePfn), link->port_->guestPort(), link->home_.c_str());
    link->stopEvent_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!link->stopEvent_)
        return errnoError("xenstore: eventfd");
    link->monitor_ = std::thread([l = link.get()] { l->monitor(); });
    return link;
}

Status XenstoreLink::introduce() {
    auto introduced =
        client_.introduce(config_.domid, kStorePfn, port_->guestPort(), pageFd_, pageOffset_,
                          port_->guestToHostFd(), port_->hostToGuestFd());
    if (!introduced.ok())
        return makeError(introduced.error().code,
                         "xenstore: introduce refused: " + introduced.error().message);
    introduced_ = true;
    return {};
}

bool XenstoreLink::waitStop(int ms) {
    pollfd p{stopEvent_.get(), POLLIN, 0};
    return ::poll(&p, 1, ms) > 0;
}

// Nothing is ever sent to us unasked (the link registers no watch), so the
// socket turning readable means xenstored went away.
void XenstoreLink::monitor() {
    for (;;) {
        pollfd p[2] = {{stopEvent_.get(), POLLIN, 0}, {client_.pollFd(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            LOG(XsLink, Error, "poll: %s", strerror(errno));
            return;
        }
        if (p[0].revents)
            return;
        if (!p[1].revents)
            continue;
        LOG(XsLink, Warn, "domain %u: xenstored closed the connection; reconnecting",
            config_.domid);
        introduced_ = false;
        int backoffMs = kReconnectFirstMs;
        for (;;) {
            if (waitStop(backoffMs))
                return;
            backoffMs = std::min(backoffMs * 2, kReconnectMaxMs);
            auto client = xs::Client::connect(config_.socketPath);
            if (!client.ok())
                continue;
            client_ = std::move(*client);
            // A daemon without --persist lost the keys; one with it kept
            // them, and the guest's own data with them.
            auto kept = client_.read(home_ + "/domid");
            if (!kept.ok() || kept.value() != std::to_string(config_.domid))
                if (auto st = writeDomainKeys(); !st.ok()) {
                    LOG(XsLink, Warn, "rewriting keys: %s", st.error().message.c_str());
                    continue;
                }
            if (auto st = introduce(); !st.ok()) {
                LOG(XsLink, Warn, "%s", st.error().message.c_str());
                continue;
            }
            LOG(XsLink, Info, "domain %u introduced again", config_.domid);
            break;
        }
    }
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
    for (const auto& [key, value] : config_.extraKeys)
        BASALT_TRY(client_.write(home_ + "/" + key, value));
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
    if (monitor_.joinable()) {
        uint64_t one = 1;
        if (::write(stopEvent_.get(), &one, sizeof(one)) < 0)
            LOG(XsLink, Error, "stopping the monitor: %s", strerror(errno));
        monitor_.join();
    }
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
