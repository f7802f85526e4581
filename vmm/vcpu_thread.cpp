#include "vmm/vcpu_thread.h"

#include "base/log.h"

#include <csignal>
#include <cstring>

namespace basalt {

BASALT_LOG_CATEGORY(VcpuLog, "vcpu");

namespace {

// The signal that interrupts KVM_RUN. Its handler does nothing: delivery alone
// makes the ioctl return EINTR.
int kickSignal() {
    return SIGRTMIN + 1;
}

void installKickHandler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_handler = [](int) {};
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0; // no SA_RESTART: KVM_RUN must return
        sigaction(kickSignal(), &sa, nullptr);
    });
}

} // namespace

const char* vcpuStateName(VcpuState state) {
    switch (state) {
    case VcpuState::Created:
        return "created";
    case VcpuState::Running:
        return "running";
    case VcpuState::Paused:
        return "paused";
    case VcpuState::Stopped:
        return "stopped";
    }
    return "?";
}

VcpuThread::VcpuThread(kvm::Vcpu& vcpu, ExitHandler& handler) : vcpu_(vcpu), handler_(handler) {
    installKickHandler();
}

VcpuThread::~VcpuThread() {
    stop();
}

void VcpuThread::start() {
    std::lock_guard lock(mutex_);
    if (state_ != VcpuState::Created)
        return;
    state_ = requested_ = VcpuState::Running;
    thread_ = std::thread([this] { loop(); });
    handle_ = thread_.native_handle();
}

void VcpuThread::kick() {
    vcpu_.requestExit();
    if (thread_.joinable())
        pthread_kill(handle_, kickSignal());
}

void VcpuThread::pause() {
    std::unique_lock lock(mutex_);
    if (state_ != VcpuState::Running || requested_ != VcpuState::Running)
        return;
    requested_ = VcpuState::Paused;
    kick();
    changed_.wait(lock, [this] { return state_ != VcpuState::Running; });
}

void VcpuThread::resume() {
    std::unique_lock lock(mutex_);
    if (requested_ != VcpuState::Paused)
        return;
    requested_ = VcpuState::Running;
    changed_.notify_all();
    // Like pause(), return only once the thread has acted on it, so that a
    // status read right after resume() says "running".
    changed_.wait(lock, [this] { return state_ != VcpuState::Paused; });
}

void VcpuThread::requestStop() {
    std::lock_guard lock(mutex_);
    requested_ = VcpuState::Stopped;
    if (state_ == VcpuState::Created)
        state_ = VcpuState::Stopped;
    vcpu_.requestExit();
    changed_.notify_all();
}

void VcpuThread::stop() {
    {
        std::lock_guard lock(mutex_);
        if (requested_ != VcpuState::Stopped) {
            requested_ = VcpuState::Stopped;
            if (state_ == VcpuState::Created)
                state_ = VcpuState::Stopped;
        }
        if (state_ != VcpuState::Stopped)
            kick();
        changed_.notify_all();
    }
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
        thread_.join();
}

VcpuState VcpuThread::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

bool VcpuThread::waitUntilRunnable() {
    std::unique_lock lock(mutex_);
    while (requested_ == VcpuState::Paused) {
        if (state_ != VcpuState::Paused) {
            state_ = VcpuState::Paused;
            changed_.notify_all();
        }
        changed_.wait(lock);
    }
    if (requested_ == VcpuState::Stopped)
        return false;
    if (state_ != VcpuState::Running) {
        state_ = VcpuState::Running;
        changed_.notify_all();
    }
    // Cleared under the lock: a pause() that takes the lock after this sets
    // the flag again, so the coming KVM_RUN returns at once.
    vcpu_.clearExitRequest();
    return true;
}

void VcpuThread::loop() {
    // Fast path: after an ordinary exit, nobody asked to pause or stop, and
    // immediate_exit is still clear, so the vCPU re-enters without taking the
    // lock. A pause() that races with this sets immediate_exit before it kicks,
    // so KVM_RUN returns InterruptedExit, and that always takes the slow path,
    // which clears immediate_exit under the lock.
    bool slowPath = true;
    while (true) {
        if (slowPath || requested_.load(std::memory_order_acquire) != VcpuState::Running) {
            if (!waitUntilRunnable())
                break;
        }
        kvm::VcpuExit exit = vcpu_.run();
        slowPath = std::holds_alternative<kvm::InterruptedExit>(exit);
        if (slowPath)
            continue;
        if (!handler_.handleExit(vcpu_, exit)) {
            std::lock_guard lock(mutex_);
            requested_ = VcpuState::Stopped;
            slowPath = true;
        }
    }
    std::lock_guard lock(mutex_);
    state_ = VcpuState::Stopped;
    changed_.notify_all();
    LOG(VcpuLog, Debug, "vCPU %u stopped", vcpu_.id());
}

} // namespace basalt
