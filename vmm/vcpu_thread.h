#pragma once
// One host thread per vCPU, with an explicit state machine:
//
//   Created --start()--> Running --pause()--> Paused --resume()--> Running
//      \                   |                    |
//       `------------------+--------stop()------+-----> Stopped (final)
//
// pause() and stop() set the vCPU's immediate_exit flag and signal the thread,
// so a KVM_RUN in progress returns at once; pause() returns only once the
// thread is parked outside KVM_RUN, so its registers are stable. Example: the
// control socket's "pause" calls pause() on every vCPU; an AP still waiting
// for SIPI inside KVM_RUN is interrupted the same way.
//
// Independently, a vCPU can be taken offline (Xen's VCPUOP_down): its thread
// waits outside KVM_RUN (state Offline, or Paused if the domain pauses)
// until setOnline(true). runBeforeEntry() queues work for the vCPU's own
// thread before its next KVM_RUN (loading a VCPUOP_initialise context).
// Example: vCPU 0's hypercall calls runBeforeEntry(1, load) and
// setOnline(1, false): vCPU 1 leaves its wait for SIPI and parks; a later
// setOnline(1, true) makes it run `load`, then enter the guest.

#include "vmm/kvm/vcpu.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <pthread.h>
#include <thread>

namespace basalt {

enum class VcpuState { Created, Running, Paused, Offline, Stopped };
const char* vcpuStateName(VcpuState state);

// Handles one exit; returns false to stop this vCPU's loop.
class ExitHandler {
public:
    virtual ~ExitHandler() = default;
    virtual bool handleExit(kvm::Vcpu& vcpu, kvm::VcpuExit& exit) = 0;
};

class VcpuThread {
public:
    VcpuThread(kvm::Vcpu& vcpu, ExitHandler& handler);
    ~VcpuThread(); // stops and joins

    VcpuThread(const VcpuThread&) = delete;
    VcpuThread& operator=(const VcpuThread&) = delete;

    void start();
    void pause();  // no-op unless Running
    void resume(); // no-op unless Paused
    void stop();   // from any thread but this vCPU's own; joins
    // Marks the loop to end without joining: for the vCPU's own thread.
    void requestStop();
    // Never blocks; safe from any thread, including this vCPU's own.
    void setOnline(bool online);
    // Runs `work` on this vCPU's thread before its next KVM_RUN (replacing
    // work not yet run); safe from any thread.
    void runBeforeEntry(std::function<void(kvm::Vcpu&)> work);

    VcpuState state() const;
    kvm::Vcpu& vcpu() { return vcpu_; }

private:
    void loop();
    void kick();
    // Waits while paused or offline and takes queued work; returns false
    // once stop was requested.
    bool waitUntilRunnable(std::function<void(kvm::Vcpu&)>& work);

    kvm::Vcpu& vcpu_;
    ExitHandler& handler_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    VcpuState state_ = VcpuState::Created;
    // Written under mutex_; read without it on the exit fast path.
    std::atomic<VcpuState> requested_{VcpuState::Created};
    bool offline_ = false;                 // under mutex_
    std::function<void(kvm::Vcpu&)> work_; // under mutex_
    std::atomic<bool> attention_{false};   // offline_ or work_ changed
    std::thread thread_;
    pthread_t handle_{};
};

} // namespace basalt
