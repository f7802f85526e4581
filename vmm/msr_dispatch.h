#pragma once
// Guest RDMSR/WRMSR that KVM's MSR filter sends to userspace. Rules come from
// the CPU policy (vmm/cpuid_policy.h); handlers are registered by the parts of
// the core that own an MSR (the Xen hypercall-page MSR, in the Xen ABI layer).
// An access with no handler, or with a Deny rule, gets #GP, which is what the
// guest would see on a CPU without that MSR.

#include "vmm/kvm/vcpu_exit.h"
#include "vmm/vendor_policy.h"

#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace basalt {

class MsrDispatcher {
public:
    // Returns the value read, or nullopt to inject #GP.
    using ReadHandler = std::function<std::optional<uint64_t>(uint32_t vcpu, uint32_t msr)>;
    // Returns false to inject #GP.
    using WriteHandler = std::function<bool(uint32_t vcpu, uint32_t msr, uint64_t value)>;

    explicit MsrDispatcher(std::vector<MsrRule> rules) : rules_(std::move(rules)) {}

    void onRead(uint32_t msr, ReadHandler handler) { readers_[msr] = std::move(handler); }
    void onWrite(uint32_t msr, WriteHandler handler) { writers_[msr] = std::move(handler); }

    const std::vector<MsrRule>& rules() const { return rules_; }

    void handle(uint32_t vcpu, kvm::MsrExit& exit) const;

private:
    const MsrRule* ruleFor(uint32_t msr, bool isWrite) const;

    std::vector<MsrRule> rules_;
    std::map<uint32_t, ReadHandler> readers_;
    std::map<uint32_t, WriteHandler> writers_;
};

} // namespace basalt
