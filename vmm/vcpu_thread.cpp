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
    case VcpuState::Offline:
        return "offline";
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

void VcpuThread::setOnline(bool online) {
    std::lock_guard lock(mutex_);
    if (offline_ == !online)
        return;
    offline_ = !online;
    attention_.store(true, std::memory_order_release);
    if (!online)
        vcpu_.requestExit(); // leave KVM_RUN (e.g. a wait for SIPI) to park
    if (!online && thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
        pthread_kill(handle_, kickSignal());
    changed_.notify_all();
}

void VcpuThread::runBeforeEntry(std::function<void(kvm::Vcpu&)> work) {
    std::lock_guard lock(mutex_);
    work_ = std::move(work);
    attention_.store(true, std::memory_order_release);
    vcpu_.requestExit();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
        pthread_kill(handle_, kickSignal());
    changed_.notify_all();
}

VcpuState VcpuThread::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

bool VcpuThread::waitUntilRunnable(std::function<void(kvm::Vcpu&)>& work) {
    std::unique_lock lock(mutex_);
    while (requested_ == VcpuState::Paused || (offline_ && requested_ == VcpuState::Running)) {
        VcpuState idle = requested_ == VcpuState::Paused ? VcpuState::Paused : VcpuState::Offline;
        if (state_ != idle) {
            state_ = idle;
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
    work = std::move(work_);
    work_ = nullptr;
    attention_.store(false, std::memory_order_relaxed);
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
        if (slowPath || requested_.load(std::memory_order_acquire) != VcpuState::Running ||
            attention_.load(std::memory_order_acquire)) {
            std::function<void(kvm::Vcpu&)> work;
            if (!waitUntilRunnable(work))
                break;
            if (work)
                work(vcpu_); // outside the lock: it issues this vCPU's ioctls
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
