#pragma once
// The notification side of a guest's xenstore event channel. The core's
// event channels implement it; tests use a fake. The other direction (the
// guest kicked us) is RingConnection::kicked(), called by whoever owns the
// channel.

namespace basalt::xenstore {

class EventChannel {
public:
    virtual ~EventChannel() = default;
    // Raises the event towards the guest.
    virtual void notify() = 0;
};

} // namespace basalt::xenstore
