#include "vmm/xen/event_channels.h"

#include "base/log.h"
#include "vmm/xen/host_event_pump.h"

#include <sys/eventfd.h>

namespace basalt::xen {

BASALT_LOG_CATEGORY(Evtchn, "evtchn");

namespace {

// Xen's virq_is_global(): per-vCPU VIRQs are bound on any vCPU, the rest
// only on vCPU 0 (x86 has no arch-specific per-vCPU VIRQs).
bool virqIsGlobal(uint32_t virq) {
    switch (virq) {
    case VIRQ_TIMER:
    case VIRQ_DEBUG:
    case VIRQ_XENOPROF:
    case VIRQ_XENPMU:
        return false;
    default:
        return true;
    }
}

} // namespace

EventChannels::EventChannels(const EventChannelsConfig& config, EventBitmaps& bits,
                             UpcallFn onUpcall, PendingFn onPending)
    : config_(config), bits_(bits), onUpcall_(std::move(onUpcall)),
      onPending_(std::move(onPending)), ports_(kPortsPerBucket), virqToPort_(config.vcpuCount) {
    for (auto& row : virqToPort_)
        row.fill(0);
    ports_[0].state = State::Reserved; // evtchn_init(): port 0 is never handed out
}

EventChannels::~EventChannels() {
    pump_.reset(); // before the table it calls into
}

uint32_t EventChannels::limitLocked() const {
    return std::min(config_.maxPort + 1, bits_.maxPorts());
}

int EventChannels::allocPortLocked() {
    uint32_t limit = limitLocked();
    for (uint32_t port = 0; port < limit; ++port) {
        if (port >= ports_.size())
            ports_.resize(ports_.size() + kPortsPerBucket); // a new bucket
        if (ports_[port].state == State::Free)
            return static_cast<int>(port);
    }
    return -XEN_ENOSPC;
}

void EventChannels::freePortLocked(uint32_t port) {
    bits_.clearPending(port); // evtchn_free(): no stale event on re-bind
    ports_[port] = Port{};
}

void EventChannels::setPendingLocked(uint32_t port) {
    Port& p = ports_[port];
    if (port >= bits_.maxPorts())
        return;
    if (bits_.testAndSetPending(port))
        return;
    uint32_t vcpu = p.notifyVcpu;
    if (!bits_.isMasked(port) && !bits_.testAndSetSelector(vcpu, port / bits_.bitsPerWord()) &&
        !bits_.testAndSetUpcallPending(vcpu))
        onUpcall_(vcpu);
    onPending_();
}

int EventChannels::allocUnbound(uint16_t dom, uint16_t remoteDom) {
    if (dom == kHostDomid)
        return -XEN_EPERM; // XSM_TARGET: a domU may not allocate in dom0
    if (dom != DOMID_SELF && dom != config_.domid)
        return -XEN_ESRCH;
    std::lock_guard lock(mutex_);
    int port = allocPortLocked();
    if (port < 0)
        return port;
    Port& p = ports_[port];
    p.state = State::Unbound;
    p.remoteDomid = remoteDom == DOMID_SELF ? config_.domid : remoteDom;
    return port;
}

int EventChannels::bindInterdomain(uint16_t remoteDom, uint32_t remotePort) {
    bool self = remoteDom == DOMID_SELF || remoteDom == config_.domid;
    if (!self && remoteDom != kHostDomid)
        return -XEN_ESRCH;
    std::lock_guard lock(mutex_);
    int port = allocPortLocked();
    if (port < 0)
        return port;
    // dom0's ports are the host's: none is ever left unbound for this guest
    // to bind, so binding to one is Xen's "not an unbound port for you".
    if (!self || !validLocked(remotePort))
        return -XEN_EINVAL;
    Port& remote = ports_[remotePort];
    if (remote.state != State::Unbound || remote.remoteDomid != config_.domid)
        return -XEN_EINVAL;
    Port& local = ports_[port];
    local.state = State::Interdomain;
    local.remoteDomid = config_.domid;
    local.remotePort = remotePort;
    remote.state = State::Interdomain;
    remote.remotePort = static_cast<uint32_t>(port);
    setPendingLocked(static_cast<uint32_t>(port));
    return port;
}

int EventChannels::bindVirq(uint32_t virq, uint32_t vcpu) {
    if (virq >= NR_VIRQS)
        return -XEN_EINVAL;
    if (virqIsGlobal(virq) && vcpu != 0)
        return -XEN_EINVAL;
    if (vcpu >= config_.vcpuCount)
        return -XEN_ENOENT;
    std::lock_guard lock(mutex_);
    if (virqToPort_[vcpu][virq] != 0)
        return -XEN_EEXIST;
    int port = allocPortLocked();
    if (port < 0)
        return port;
    Port& p = ports_[port];
    p.state = State::Virq;
    p.notifyVcpu = vcpu;
    p.virq = virq;
    virqToPort_[vcpu][virq] = static_cast<uint32_t>(port);
    return port;
}

int EventChannels::bindIpi(uint32_t vcpu) {
    if (vcpu >= config_.vcpuCount)
        return -XEN_ENOENT;
    std::lock_guard lock(mutex_);
    int port = allocPortLocked();
    if (port < 0)
        return port;
    ports_[port].state = State::Ipi;
    ports_[port].notifyVcpu = vcpu;
    return port;
}

int EventChannels::bindVcpu(uint32_t port, uint32_t vcpu) {
    if (vcpu >= config_.vcpuCount)
        return -XEN_ENOENT;
    std::lock_guard lock(mutex_);
    if (!validLocked(port))
        return -XEN_EINVAL;
    Port& p = ports_[port];
    if (p.xenAttached)
        return -XEN_EINVAL;
    switch (p.state) {
    case State::Virq:
        if (!virqIsGlobal(p.virq))
            return -XEN_EINVAL;
        p.notifyVcpu = vcpu;
        return 0;
    case State::Unbound:
    case State::Interdomain:
        p.notifyVcpu = vcpu;
        return 0;
    default:
        return -XEN_EINVAL;
    }
}

int EventChannels::send(uint32_t port) {
    std::lock_guard lock(mutex_);
    if (!validLocked(port))
        return -XEN_EINVAL;
    Port& p = ports_[port];
    if (p.xenAttached)
        return -XEN_EINVAL;
    switch (p.state) {
    case State::Interdomain:
        if (p.host)
            p.host->signalHost();
        else
            setPendingLocked(p.remotePort);
        return 0;
    case State::Ipi:
        setPendingLocked(port);
        return 0;
    case State::Unbound:
        return 0; // nobody listens yet: dropped, as Xen does
    default:
        return -XEN_EINVAL;
    }
}

int EventChannels::closeLocked(uint32_t port, bool guest) {
    if (!validLocked(port))
        return -XEN_EINVAL;
    Port& p = ports_[port];
    if (p.xenAttached && guest)
        return -XEN_EINVAL;
    switch (p.state) {
    case State::Free:
    case State::Reserved:
        return -XEN_EINVAL;
    case State::Virq:
        virqToPort_[virqIsGlobal(p.virq) ? 0 : p.notifyVcpu][p.virq] = 0;
        break;
    case State::Interdomain:
        if (p.host) {
            // dom0's end stays open but unbound: the host sees connected() false.
            p.host->connected.store(false);
            p.host->guestPort.store(0);
            if (pump_)
                pump_->remove(*p.host);
        } else {
            Port& remote = ports_[p.remotePort];
            remote.state = State::Unbound;
            remote.remoteDomid = config_.domid;
            remote.remotePort = 0;
        }
        break;
    default:
        break;
    }
    freePortLocked(port);
    return 0;
}

int EventChannels::close(uint32_t port) {
    std::lock_guard lock(mutex_);
    return closeLocked(port, true);
}

int EventChannels::status(evtchn_status_t& st) const {
    if (st.dom == kHostDomid)
        return -XEN_EPERM; // XSM_TARGET
    if (st.dom != DOMID_SELF && st.dom != config_.domid)
        return -XEN_ESRCH;
    std::lock_guard lock(mutex_);
    if (!validLocked(st.port))
        return -XEN_EINVAL;
    const Port& p = ports_[st.port];
    if (p.xenAttached)
        return -XEN_EACCES;
    st.u = {};
    switch (p.state) {
    case State::Free:
    case State::Reserved:
        st.status = EVTCHNSTAT_closed;
        break;
    case State::Unbound:
        st.status = EVTCHNSTAT_unbound;
        st.u.unbound.dom = p.remoteDomid;
        break;
    case State::Interdomain:
        st.status = EVTCHNSTAT_interdomain;
        st.u.interdomain.dom = p.remoteDomid;
        st.u.interdomain.port = p.host ? p.host->hostPort : p.remotePort;
        break;
    case State::Virq:
        st.status = EVTCHNSTAT_virq;
        st.u.virq = p.virq;
        break;
    case State::Ipi:
        st.status = EVTCHNSTAT_ipi;
        break;
    }
    st.vcpu = p.notifyVcpu;
    return 0;
}

int EventChannels::unmask(uint32_t port) {
    std::lock_guard lock(mutex_);
    if (!validLocked(port))
        return -XEN_EINVAL;
    if (port >= bits_.maxPorts())
        return 0;
    uint32_t vcpu = ports_[port].notifyVcpu;
    bool wasMasked = bits_.isMasked(port);
    bits_.clearMask(port);
    if (wasMasked && bits_.isPending(port) &&
        !bits_.testAndSetSelector(vcpu, port / bits_.bitsPerWord()) &&
        !bits_.testAndSetUpcallPending(vcpu))
        onUpcall_(vcpu);
    return 0;
}

int EventChannels::reset(uint16_t dom) {
    if (dom == kHostDomid)
        return -XEN_EPERM;
    if (dom != DOMID_SELF && dom != config_.domid)
        return -XEN_ESRCH;
    std::lock_guard lock(mutex_);
    for (uint32_t port = 1; port < ports_.size(); ++port)
        closeLocked(port, true); // free and Xen-attached ports refuse, as in Xen
    return 0;
}

int EventChannels::pollPort(uint32_t port) const {
    std::lock_guard lock(mutex_);
    if (!validLocked(port))
        return -XEN_EINVAL;
    const Port& p = ports_[port];
    bool usable = !p.xenAttached && p.state != State::Free && p.state != State::Reserved;
    return usable && bits_.isPending(port) ? 1 : 0;
}

void EventChannels::sendVirq(uint32_t vcpu, uint32_t virq) {
    if (vcpu >= config_.vcpuCount || virq >= NR_VIRQS)
        return;
    std::lock_guard lock(mutex_);
    uint32_t port = virqToPort_[vcpu][virq];
    if (port == 0)
        return;
    // Per-vCPU VIRQs always go to the vCPU they were bound on.
    uint32_t saved = ports_[port].notifyVcpu;
    ports_[port].notifyVcpu = vcpu;
    setPendingLocked(port);
    ports_[port].notifyVcpu = saved;
}

void EventChannels::sendGlobalVirq(uint32_t virq) {
    if (virq >= NR_VIRQS || !virqIsGlobal(virq))
        return;
    std::lock_guard lock(mutex_);
    uint32_t port = virqToPort_[0][virq];
    if (port != 0)
        setPendingLocked(port);
}

bool EventChannels::virqBound(uint32_t vcpu, uint32_t virq) const {
    if (vcpu >= config_.vcpuCount || virq >= NR_VIRQS)
        return false;
    std::lock_guard lock(mutex_);
    return virqToPort_[vcpu][virq] != 0;
}

Result<std::unique_ptr<HostPort>> EventChannels::connectHostLocked(uint32_t guestPort,
                                                                   const HostPortOptions& options) {
    auto endpoint = std::make_shared<HostEndpoint>();
    endpoint->guestToHost = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    endpoint->hostToGuest = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!endpoint->guestToHost || !endpoint->hostToGuest)
        return errnoError("host event channel: eventfd");
    if (!options.xenAttached) {
        if (!pump_) {
            pump_ = std::make_unique<HostEventPump>(*this);
            if (!pump_->ok()) {
                pump_.reset();
                return makeError(EIO, "host event channel: cannot start the event pump");
            }
        }
        pump_->add(endpoint);
    }
    endpoint->hostPort = nextHostPort_++;
    endpoint->guestPort.store(guestPort);
    endpoint->xenAttached = options.xenAttached;
    endpoint->connected.store(true);
    Port& p = ports_[guestPort];
    p.state = State::Interdomain;
    p.remoteDomid = kHostDomid;
    p.remotePort = endpoint->hostPort;
    p.xenAttached = options.xenAttached;
    p.host = endpoint;
    return std::make_unique<HostPort>(*this, std::move(endpoint));
}

Result<std::unique_ptr<HostPort>> EventChannels::allocateHostPort(const HostPortOptions& options) {
    if (options.notifyVcpu >= config_.vcpuCount)
        return makeError(EINVAL,
                         "host event channel: no vCPU " + std::to_string(options.notifyVcpu));
    std::lock_guard lock(mutex_);
    int port = allocPortLocked();
    if (port < 0)
        return makeError(ENOSPC, "host event channel: the guest has no free port");
    ports_[port].notifyVcpu = options.notifyVcpu;
    return connectHostLocked(static_cast<uint32_t>(port), options);
}

Result<std::unique_ptr<HostPort>> EventChannels::bindHostPort(uint32_t guestPort) {
    std::lock_guard lock(mutex_);
    if (!validLocked(guestPort) || ports_[guestPort].state != State::Unbound ||
        ports_[guestPort].remoteDomid != kHostDomid)
        return makeError(EINVAL, "host event channel: guest port " + std::to_string(guestPort) +
                                     " is not unbound for domain 0");
    auto port = connectHostLocked(guestPort, HostPortOptions{false, ports_[guestPort].notifyVcpu});
    // Like Xen's bind_interdomain, the binding side (dom0) gets a
    // notification in case the guest sent one while the port was unbound.
    if (port.ok())
        ports_[guestPort].host->signalHost();
    return port;
}

void EventChannels::notifyFromHost(const HostEndpoint& endpoint) {
    std::lock_guard lock(mutex_);
    if (!endpoint.connected.load() || endpoint.xenAttached)
        return;
    uint32_t port = endpoint.guestPort.load();
    if (validLocked(port) && ports_[port].host.get() == &endpoint)
        setPendingLocked(port);
}

void EventChannels::closeHostEnd(const std::shared_ptr<HostEndpoint>& endpoint) {
    std::lock_guard lock(mutex_);
    if (pump_)
        pump_->remove(*endpoint);
    if (!endpoint->connected.exchange(false))
        return;
    uint32_t port = endpoint->guestPort.exchange(0);
    if (!validLocked(port) || ports_[port].host != endpoint)
        return;
    Port& p = ports_[port];
    if (p.xenAttached) {
        freePortLocked(port); // Xen frees its own channels when it drops them
        return;
    }
    p.state = State::Unbound;
    p.remoteDomid = kHostDomid;
    p.remotePort = 0;
    p.host.reset();
}

} // namespace basalt::xen
