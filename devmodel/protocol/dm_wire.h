#pragma once
// The wire between Basalt's provider libraries (devmodel/lib/, loaded into
// QEMU in place of Xen's libxenctrl, libxendevicemodel, libxenforeignmemory,
// libxenevtchn, libxengnttab) and basalt-vmm's device-model host
// (devmodel/host/). It replaces Xen's hypercalls and /dev/xen/* ioctls.
//
// Transport: one AF_UNIX SOCK_SEQPACKET socket. basalt-vmm creates a
// socketpair, and QEMU inherits one end; its number is in the environment
// variable kDmSocketEnv. Every library in the QEMU process shares that one
// connection through libbasalt-dmclient (one mutex, one request in flight).
//
// Every exchange is one request packet and one reply packet:
//   request = DmRequestHeader + op-specific body (the Dm*Request struct named
//             by the op, possibly followed by a variable array)
//   reply   = DmReplyHeader + op-specific body; file descriptors ride on the
//             reply as SCM_RIGHTS, DmReplyHeader::fdCount of them, in the
//             order the op's comment gives.
// Both directions are little-endian host structs (the peers are the same
// machine and the same build). Packets are at most kDmMaxPacket bytes; the
// libraries split larger requests (pfn arrays, grant copies).
//
// The host treats every field as hostile: QEMU is a deprivileged, large
// attack surface, and a bad request gets an errno, never a crash.
//
// Worked example (QEMU's start-up, as in PROBES.md):
//   lib: CreateIoreqServer{handleBufioreq=1}    host: value=id 0
//   lib: GetIoreqServerInfo{id 0}               host: ioreqGfn, bufioreqGfn, bufioreqPort
//   lib: MapPfns{prot RW, pfns=[ioreqGfn]}      host: one DmPfnSlot{backing 2, offset 0} + fd
//   lib: mmap(fd, offset 0)  -> shared_iopage_t, vcpu_ioreq[i].vp_eport filled in
//   lib: BindInterdomain{remotePort=vp_eport}   host: value=local port, fds [fromGuest, toGuest]
//   vCPU exit on port 0x3FD: host fills vcpu_ioreq[0], state=READY, writes fromGuest
//   QEMU: poll(xenevtchn_fd) -> pending -> answers, state=IORESP_READY, notify(toGuest)

#include <cstdint>

namespace basalt::devmodel {

inline constexpr const char* kDmSocketEnv = "BASALT_DM_FD";
inline constexpr uint32_t kDmMaxPacket = 128 * 1024;
inline constexpr uint32_t kDmMaxFdsPerReply = 16;
inline constexpr uint32_t kDmProtocolVersion = 1;

enum class DmOp : uint32_t {
    // --- session
    Hello = 1, // DmHelloRequest -> DmHelloReply

    // --- foreign memory (libxenforeignmemory)
    // DmMapPfnsRequest + uint64_t pfns[count] -> DmPfnSlot[count]; one fd per
    // backing the connection has not been sent before, in the order those
    // backings first appear in the slots. A page the lib may not map (hole,
    // MMIO, ROM with PROT_WRITE) gets a per-slot errno, as Xen's err[] array.
    // A slot with an error names no backing and brings no fd; EMFILE there
    // means the reply had no room for its backing's fd (kDmMaxFdsPerReply),
    // and the lib asks for that page again.
    MapPfns = 10,
    // DmMapResourceRequest -> DmPfnSlot[nrFrames] (+ new fds as MapPfns).
    // XENMEM_resource_ioreq_server: frame 0 = buffered page, 1.. = ioreq pages.
    MapResource = 11,

    // --- event channels (libxenevtchn)
    // DmBindInterdomainRequest -> value = local port; fds [fromGuest, toGuest]:
    // fromGuest becomes readable (eventfd count) when the guest side signals,
    // the lib writes toGuest (eventfd, 8 bytes) for xenevtchn_notify.
    BindInterdomain = 20,
    Unbind = 21, // DmPortRequest -> nothing

    // --- ioreq servers (libxendevicemodel), Xen 4.17 dm_op semantics
    CreateIoreqServer = 30,  // DmCreateIoreqServerRequest -> value = server id
    GetIoreqServerInfo = 31, // DmServerRequest -> DmIoreqServerInfoReply
    MapIoRange = 32,         // DmIoRangeRequest -> nothing
    UnmapIoRange = 33,       // DmIoRangeRequest -> nothing
    MapPciDev = 34,          // DmPciDevRequest -> nothing
    UnmapPciDev = 35,        // DmPciDevRequest -> nothing
    SetIoreqServerState = 36, // DmServerStateRequest -> nothing
    DestroyIoreqServer = 37, // DmServerRequest -> nothing

    // --- interrupts (libxendevicemodel)
    SetIsaIrqLevel = 40,  // DmIsaIrqRequest
    SetPciIntxLevel = 41, // DmPciIntxRequest
    SetPciLinkRoute = 42, // DmPciLinkRouteRequest
    InjectMsi = 43,       // DmMsiRequest

    // --- memory the device model manages (libxendevicemodel, libxenctrl)
    TrackDirtyVram = 50, // DmTrackDirtyVramRequest -> uint64_t bitmap[(nr+63)/64]
    ModifiedMemory = 51, // DmModifiedMemoryRequest + DmExtent[count]
    SetMemType = 52,     // DmSetMemTypeRequest
    RelocateMemory = 53, // DmRelocateMemoryRequest
    PinMemoryCacheattr = 54, // DmPinCacheattrRequest
    // DmPopulatePhysmapRequest + uint64_t gpfns[count] -> nothing (all or none)
    PopulatePhysmap = 55,

    // --- domain (libxenctrl, libxendevicemodel)
    GetHvmParam = 60, // DmHvmParamRequest -> value
    SetHvmParam = 61, // DmHvmParamRequest -> nothing
    Shutdown = 62,    // DmShutdownRequest (SHUTDOWN_* reason) -> nothing

    // --- grant tables (libxengnttab), through the core's GrantHost
    // DmMapGrantsRequest + DmGrantRef[count] -> value = map handle,
    // DmPfnSlot[count] (+ new fds as MapPfns). All or none.
    MapGrants = 70,
    UnmapGrants = 71, // DmUnmapGrantsRequest -> nothing
    // DmGrantCopyRequest + DmGrantCopySegment[count] + the bytes of every
    // to-guest segment, back to back -> int16_t status[count] (GNTST_*),
    // then the bytes of every from-guest segment that succeeded.
    GrantCopy = 72,
};

struct DmRequestHeader {
    uint32_t op;     // DmOp
    uint32_t length; // of the whole packet, header included
    uint64_t seq;    // echoed in the reply
};

struct DmReplyHeader {
    uint64_t seq;
    int32_t error;   // 0 or a positive errno; body is empty on error
    uint32_t fdCount;
    uint64_t value;  // the op's scalar result, if any
    uint32_t length; // of the whole packet, header included
    uint32_t pad;
};

struct DmHelloRequest {
    uint32_t version; // kDmProtocolVersion
    uint32_t domid;   // from -xen-domid; must match the host's
};
struct DmHelloReply {
    uint32_t version;
    uint32_t domid;
    uint32_t vcpus;
    uint32_t pad;
};

// Where one mapped page lives: page `offset` of the fd known as `backing`.
struct DmPfnSlot {
    uint32_t backing; // host-assigned id, stable for the connection
    int32_t error;    // 0, or a positive errno for this page alone
    uint64_t offset;  // byte offset in the backing fd, page aligned
};

struct DmMapPfnsRequest {
    uint32_t domid;
    uint32_t prot; // PROT_READ | PROT_WRITE
    uint32_t count;
    uint32_t pad;
};

struct DmMapResourceRequest {
    uint32_t domid;
    uint32_t type; // XENMEM_resource_*
    uint32_t id;   // ioreq server id
    uint32_t prot;
    uint64_t frame;
    uint64_t nrFrames;
};

struct DmBindInterdomainRequest {
    uint32_t domid;
    uint32_t remotePort;
};
struct DmPortRequest {
    uint32_t port;
    uint32_t pad;
};

struct DmCreateIoreqServerRequest {
    uint32_t domid;
    uint32_t handleBufioreq; // HVM_IOREQSRV_BUFIOREQ_*
};
struct DmServerRequest {
    uint32_t domid;
    uint32_t id;
};
struct DmIoreqServerInfoReply {
    uint64_t ioreqGfn;
    uint64_t bufioreqGfn;
    uint32_t bufioreqPort;
    uint32_t pad;
};
struct DmServerStateRequest {
    uint32_t domid;
    uint32_t id;
    uint32_t enabled;
    uint32_t pad;
};
struct DmIoRangeRequest {
    uint32_t domid;
    uint32_t id;
    uint32_t type; // XEN_DMOP_IO_RANGE_PORT / MEMORY / PCI
    uint32_t pad;
    uint64_t start; // inclusive
    uint64_t end;   // inclusive
};
struct DmPciDevRequest {
    uint32_t domid;
    uint32_t id;
    uint16_t segment;
    uint8_t bus;
    uint8_t device;
    uint8_t function;
    uint8_t pad[3];
};

struct DmIsaIrqRequest {
    uint32_t domid;
    uint8_t irq;
    uint8_t level;
    uint8_t pad[2];
};
struct DmPciIntxRequest {
    uint32_t domid;
    uint16_t segment;
    uint8_t bus;
    uint8_t device;
    uint8_t intx; // 0..3 = INTA..INTD
    uint8_t level;
    uint8_t pad[2];
};
struct DmPciLinkRouteRequest {
    uint32_t domid;
    uint8_t link; // 0..3
    uint8_t irq;  // 0 = disabled, else ISA IRQ 1..15
    uint8_t pad[2];
};
struct DmMsiRequest {
    uint32_t domid;
    uint32_t data;
    uint64_t address;
};

struct DmTrackDirtyVramRequest {
    uint32_t domid;
    uint32_t nr; // pages; 0 stops tracking
    uint64_t firstPfn;
};
struct DmExtent {
    uint64_t firstPfn;
    uint64_t nr;
};
struct DmModifiedMemoryRequest {
    uint32_t domid;
    uint32_t count;
};
struct DmSetMemTypeRequest {
    uint32_t domid;
    uint32_t type; // HVMMEM_*
    uint64_t firstPfn;
    uint64_t nr;
};
struct DmRelocateMemoryRequest {
    uint32_t domid;
    uint32_t size; // pages
    uint64_t srcGfn;
    uint64_t dstGfn;
};
struct DmPinCacheattrRequest {
    uint32_t domid;
    uint32_t type;
    uint64_t start;
    uint64_t end;
};
struct DmPopulatePhysmapRequest {
    uint32_t domid;
    uint32_t extentOrder;
    uint32_t memFlags;
    uint32_t count;
};

struct DmHvmParamRequest {
    uint32_t domid;
    uint32_t index;
    uint64_t value;
};
struct DmShutdownRequest {
    uint32_t domid;
    uint32_t reason;
};

struct DmGrantRef {
    uint32_t domid;
    uint32_t ref;
};
struct DmMapGrantsRequest {
    uint32_t count;
    uint32_t prot;
};
struct DmUnmapGrantsRequest {
    uint64_t handle;
};
struct DmGrantCopySegment {
    uint32_t domid;
    uint32_t ref;
    uint16_t offset;  // within the granted page
    uint16_t length;  // offset + length <= 4096
    uint8_t toGuest;  // 1: bytes from the lib into the grant
    uint8_t pad[3];
};
struct DmGrantCopyRequest {
    uint32_t count;
    uint32_t pad;
};

} // namespace basalt::devmodel
