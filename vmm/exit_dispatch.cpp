// The vCPU exit switch: what each exit KVM hands to userspace means for the
// domain. Everything a guest can trigger here is rate-limited in the log.

#include "base/log.h"
#include "vmm/devices/rtc.h"
#include "vmm/domain.h"
#include "vmm/exit_status.h"
#include "vmm/ioreq/ioreq_servers.h"
#include "vmm/kvm/vcpu.h"
#include "vmm/xen/hypercall.h"
#include "vmm/xen/xen_platform.h"

#include <cinttypes>
#include <cstring>

namespace basalt {

BASALT_LOG_CATEGORY(ExitLog, "exit");

namespace {

template <class... Fs> struct Overloaded : Fs... { using Fs::operator()...; };
template <class... Fs> Overloaded(Fs...) -> Overloaded<Fs...>;

} // namespace

void Domain::crash(kvm::Vcpu& vcpu, const std::string& why) {
    std::string dump = vcpu.dumpState();
    if (!dump.empty() && dump.back() == '\n')
        dump.pop_back();
    LOG(ExitLog, Error, "vCPU %u: %s; guest state:\n%s", vcpu.id(), why.c_str(), dump.c_str());
    requestStop(kExitCrashed, "crashed: " + why);
}

namespace {

// " at RIP 0x... (CS 0x..): instruction bytes d9 e8 ...; an x87 instruction":
// enough to find the instruction in a firmware image and to see why this
// host's KVM could not emulate it.
std::string describeEmulationFailure(const kvm::Vcpu& vcpu, const kvm::InternalErrorExit& e) {
    std::string text;
    char buf[64];
    auto regs = vcpu.getRegisters();
    auto sregs = vcpu.getSpecialRegisters();
    if (regs) {
        snprintf(buf, sizeof buf, " at RIP %#" PRIx64, regs->rip);
        text += buf;
        if (sregs) {
            snprintf(buf, sizeof buf, " (CS %#x base %#" PRIx64 ")", sregs->cs.selector,
                     sregs->cs.base);
            text += buf;
        }
    }
    if (e.instructionBytes.empty())
        return text + ": KVM gave no instruction bytes";
    text += ": instruction bytes";
    for (uint8_t b : e.instructionBytes) {
        snprintf(buf, sizeof buf, " %02x", b);
        text += buf;
    }
    if (const char* cls = kvm::instructionClassName(e.instructionBytes))
        text += std::string("; ") + cls + " (this host's KVM may not emulate x87/SSE)";
    return text;
}

} // namespace

bool Domain::isDeviceModelCmos(const kvm::IoExit& io) const {
    return rtc_ && io.size == 1 && io.count == 1 && io.port >= Rtc::kBasePort &&
           io.port < Rtc::kBasePort + Rtc::kPortCount &&
           rtc_->belongsToDeviceModel(io.port - Rtc::kBasePort, io.isWrite, io.data[0]);
}

bool Domain::handleExit(kvm::Vcpu& vcpu, kvm::VcpuExit& exit) {
    if (vcpu.id() == 0)
        virtualWire_.poll(*vm_, vcpu); // hvmloader's PIC routing (virtual_wire.h)
    return std::visit(
        Overloaded{
            [&](kvm::IoExit& io) {
                if (io.port == xen::kHypercallPort && io.isWrite && io.size == 4 && io.count == 1 &&
                    xen_->hypercallsEnabled()) {
                    xen_->hypercall(vcpu);
                    return true;
                }
                // Core devices first; what they leave goes to the device model.
                if (isDeviceModelCmos(io)) {
                    if (io.isWrite && io.port == Rtc::kBasePort) // Xen latches it too
                        bus_.handlePio(io.port, io.size, io.isWrite, io.count, io.data);
                    auto outcome = ioreqServers_->handlePio(vcpu.id(), io.port, io.size, io.isWrite,
                                                            io.count, io.data);
                    if (outcome == ioreq::Outcome::Failed)
                        return false;
                    if (outcome == ioreq::Outcome::Unclaimed && !io.isWrite)
                        std::memset(io.data, 0xFF, io.size); // no device model: open bus
                    return true;
                }
                if (bus_.tryHandlePio(io.port, io.size, io.isWrite, io.count, io.data))
                    return true;
                auto outcome = ioreqServers_->handlePio(vcpu.id(), io.port, io.size, io.isWrite,
                                                        io.count, io.data);
                if (outcome == ioreq::Outcome::Failed)
                    return false;
                if (outcome == ioreq::Outcome::Unclaimed)
                    bus_.unclaimedPio(io.port, io.size, io.isWrite, io.count, io.data);
                return true;
            },
            [&](kvm::MmioExit& mmio) {
                std::span<uint8_t> data(mmio.data, mmio.len);
                if (bus_.tryAccess(AddressSpace::Mmio, mmio.gpa, mmio.isWrite, data))
                    return true;
                auto outcome = ioreqServers_->handleMmio(vcpu.id(), mmio.gpa, mmio.len,
                                                         mmio.isWrite, mmio.data);
                if (outcome == ioreq::Outcome::Failed)
                    return false;
                if (outcome == ioreq::Outcome::Unclaimed)
                    bus_.unclaimedAccess(AddressSpace::Mmio, mmio.gpa, mmio.isWrite, data);
                return true;
            },
            [&](kvm::MsrExit& msr) {
                msrs_->handle(vcpu.id(), msr);
                return true;
            },
            [&](kvm::HaltExit&) {
                // With the in-kernel LAPIC, KVM waits in HLT itself; a HLT that
                // reaches userspace means no interrupt can ever wake the vCPU.
                crash(vcpu, "HLT with no interrupt source (in-kernel LAPIC missing?)");
                return false;
            },
            [&](kvm::ShutdownExit&) {
                crash(vcpu, "triple fault");
                return false;
            },
            [&](kvm::InterruptedExit&) { return true; },
            [&](kvm::SystemEventExit& event) {
                using Kind = kvm::SystemEventExit::Kind;
                if (event.kind == Kind::Shutdown)
                    requestStop(kExitPoweredOff, "guest powered off");
                else if (event.kind == Kind::Reset)
                    requestStop(kExitRebootRequested, "guest requested a reset");
                else
                    crash(vcpu, "guest system event " + std::to_string(event.rawType));
                return false;
            },
            [&](kvm::FailEntryExit& fail) {
                crash(vcpu, vendor_->describeEntryFailure(fail.hardwareReason) + " on host CPU " +
                                std::to_string(fail.cpu));
                return false;
            },
            [&](kvm::InternalErrorExit& internal) {
                std::string why =
                    std::string("KVM internal error: ") + kvm::internalErrorName(internal.suberror);
                if (internal.hardwareExitReason)
                    why += " (" + vendor_->exitReasonName(*internal.hardwareExitReason) + ")";
                if (internal.suberror == kvm::kInternalErrorEmulation)
                    why += describeEmulationFailure(vcpu, internal);
                if (!internal.extraData().empty())
                    why += "; KVM data:";
                for (uint64_t word : internal.extraData()) {
                    char hex[24];
                    snprintf(hex, sizeof hex, " %#" PRIx64, word);
                    why += hex;
                }
                crash(vcpu, why);
                return false;
            },
            [&](kvm::XenHypercallExit& hcall) {
                xen_->hypercall(vcpu, hcall); // KVM_CAP_XEN_HVM hosts only
                return true;
            },
            [&](kvm::UnknownExit& unknown) {
                crash(vcpu, "unexpected KVM exit reason " + std::to_string(unknown.reason));
                return false;
            },
        },
        exit);
}

} // namespace basalt
