#pragma once
// The device-model host's request handling, without the socket: one packet
// in (devmodel/protocol/dm_wire.h), one reply and its fds out. QEMU is
// untrusted, so every length, index and pad field is checked before use and
// a bad request gets an errno, never a crash. The fuzz target drives this.
//
// Worked example, a PCI INTx line (Xen's hvm_pci_intx_assert):
//   SetPciIntxLevel{dev 3, INTA, 1}: first assertion of (3, A), so GSI
//     ((3 << 2) + (3 >> 3) + 0) % 32 + 16 = 28 counts 1 (KVM's IOAPIC has
//     24 pins: logged once, not raised) and link (3 + 0) % 4 = 3 counts 1;
//     link 3 routed to ISA IRQ 10 raises IRQ 10 (count 1).
//   SetPciLinkRoute{link 3, irq 11}: the link is asserted, so IRQ 10 drops
//     (count 0) and IRQ 11 rises.
//   SetPciIntxLevel{dev 3, INTA, 0}: GSI 28 and link 3 count 0; IRQ 11 drops.

#include "base/result.h"
#include "devmodel/protocol/dm_wire.h"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace basalt::npt {
class PhysMap;
}
namespace basalt::ioreq {
class IoreqServers;
}
namespace basalt::xen {
class EventChannels;
class HostPort;
class HvmParams;
class GrantHost;
} // namespace basalt::xen

namespace basalt::devmodel {

// What the host needs from the domain; nullable pointers are services the
// domain may lack (the op then answers ENOSYS).
struct HostServices {
    uint16_t domid = 1;
    uint32_t vcpus = 1;
    npt::PhysMap* physMap = nullptr;
    ioreq::IoreqServers* ioreq = nullptr;
    xen::EventChannels* channels = nullptr;
    xen::HvmParams* params = nullptr;
    xen::GrantHost* grants = nullptr;
    std::function<Status(uint32_t gsi, bool level)> setGsi;
    std::function<Status(uint64_t address, uint32_t data)> signalMsi;
    // SHUTDOWN_* from the device model (validated).
    std::function<void(uint32_t reason)> shutdown;
};

struct DmReply {
    std::vector<uint8_t> bytes; // DmReplyHeader + body
    std::vector<int> fds;       // borrowed; sent with SCM_RIGHTS
};

class Dispatcher {
public:
    // Pages the device model may populate in total, to bound host memory.
    static constexpr uint64_t kMaxPopulatedPages = uint64_t{1} << 18; // 1 GiB

    explicit Dispatcher(HostServices services);
    ~Dispatcher();
    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    // One request packet -> its reply. Never fails: errors are replies.
    DmReply handle(std::span<const uint8_t> packet);

    // For tests: the assertion count of a GSI / the route of a link.
    uint32_t gsiAssertCount(uint32_t gsi) const { return gsiCount_.at(gsi); }

private:
    struct Request;
    using Handler = int (Dispatcher::*)(Request&);
    struct OpEntry {
        DmOp op;
        const char* name;
        Handler handler;
    };
    static const OpEntry kOps[];

    int hello(Request& r);
    int mapPfns(Request& r);
    int mapResource(Request& r);
    int bindInterdomain(Request& r);
    int unbind(Request& r);
    int createServer(Request& r);
    int getServerInfo(Request& r);
    int mapIoRange(Request& r);
    int unmapIoRange(Request& r);
    int mapPciDev(Request& r);
    int unmapPciDev(Request& r);
    int setServerState(Request& r);
    int destroyServer(Request& r);
    int setIsaIrqLevel(Request& r);
    int setPciIntxLevel(Request& r);
    int setPciLinkRoute(Request& r);
    int injectMsi(Request& r);
    int trackDirtyVram(Request& r);
    int modifiedMemory(Request& r);
    int setMemType(Request& r);
    int relocateMemory(Request& r);
    int pinCacheattr(Request& r);
    int populatePhysmap(Request& r);
    int getHvmParam(Request& r);
    int setHvmParam(Request& r);
    int shutdown(Request& r);
    int mapGrants(Request& r);
    int unmapGrants(Request& r);
    int grantCopy(Request& r);

    // Fills one slot for the page of `fd` at `offset`, sending the fd if the
    // connection has not seen it and there is room in this reply.
    void fillSlot(Request& r, DmPfnSlot& slot, int fd, uint64_t offset);
    int ioRange(Request& r, bool map);
    int pciDev(Request& r, bool map);
    void raiseGsi(uint32_t gsi, bool level);
    void gsiUp(uint32_t gsi);
    void gsiDown(uint32_t gsi);

    HostServices s_;
    std::map<std::pair<uint64_t, uint64_t>, uint32_t> backings_; // (dev, ino) -> id
    uint32_t nextBacking_ = 1;
    struct BoundPort {
        std::unique_ptr<xen::HostPort> host; // null for an ioreq port
    };
    std::map<uint32_t, BoundPort> ports_;  // by local (dom0-side) port
    uint32_t nextIoreqLocalPort_ = 0x8000; // above any HostPort number
    uint64_t populatedPages_ = 0;
    // The one VRAM range Xen's track_dirty_vram follows; nr 0 = none.
    uint64_t vramFirst_ = 0;
    uint64_t vramNr_ = 0;
    // Xen's hvm_irq: INTx wires, per-GSI and per-link assertion counts.
    static constexpr uint32_t kXenGsis = 48;
    std::array<bool, 32 * 4> intxAsserted_{};
    std::array<bool, 16> isaAsserted_{};
    std::array<uint32_t, kXenGsis> gsiCount_{};
    std::array<uint32_t, 4> linkCount_{};
    std::array<uint8_t, 4> linkRoute_{};
    std::array<bool, kXenGsis> gsiWarned_{};
    struct GrantGroup {
        std::vector<uint32_t> handles;
    };
    std::map<uint64_t, GrantGroup> grantGroups_;
    uint64_t nextGrantGroup_ = 1;
};

} // namespace basalt::devmodel
