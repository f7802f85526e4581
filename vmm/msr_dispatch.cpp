#include "vmm/msr_dispatch.h"

#include "base/log.h"

namespace basalt {

BASALT_LOG_CATEGORY(Msr, "msr");

namespace {
constexpr uint8_t kInjectGp = 1;
}

const MsrRule* MsrDispatcher::ruleFor(uint32_t msr, bool isWrite) const {
    for (const auto& rule : rules_)
        if (msr >= rule.first && msr - rule.first < rule.count &&
            (isWrite ? rule.write : rule.read))
            return &rule;
    return nullptr;
}

void MsrDispatcher::handle(uint32_t vcpu, kvm::MsrExit& exit) const {
    *exit.error = 0;
    const MsrRule* rule = ruleFor(exit.index, exit.isWrite);
    if (rule && rule->action == MsrAction::Userspace) {
        if (exit.isWrite) {
            auto it = writers_.find(exit.index);
            if (it != writers_.end() && it->second(vcpu, exit.index, exit.value))
                return;
        } else {
            auto it = readers_.find(exit.index);
            if (it != readers_.end()) {
                if (auto value = it->second(vcpu, exit.index)) {
                    *exit.result = *value;
                    return;
                }
            }
        }
    }
    LOG_RATELIMITED(Msr, Info, "vCPU %u: %s of MSR %#x refused with #GP (%s)", vcpu,
                    exit.isWrite ? "WRMSR" : "RDMSR", exit.index, rule ? rule->why : "no rule");
    *exit.error = kInjectGp;
}

} // namespace basalt
