// xen_version: what Xen 4.17 tells an HVM domU about itself (common/kernel.c).

#include "vmm/xen/handlers.h"
#include "vmm/xen/xen_headers.h"
#include "vmm/xen/xen_platform.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace basalt::xen {

namespace {

constexpr char kExtraVersion[] = ".2-basalt";
constexpr char kCapabilities[] = "hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64";
constexpr uint32_t kPageSize = 4096;

// Features of an HVM domain with hardware-assisted paging and no PIRQs. The
// callback vector is not offered: without in-kernel Xen support the core
// delivers events through the platform device's INTx or a GSI (DESIGN.md 2).
constexpr uint32_t kFeatures =
    (1u << XENFEAT_writable_page_tables) | (1u << XENFEAT_auto_translated_physmap) |
    (1u << XENFEAT_hvm_safe_pvclock) | (1u << XENFEAT_memory_op_vnode_supported) |
    (1u << XENFEAT_not_direct_mapped);

template <size_t N> int64_t copyString(HypercallContext& ctx, const char (&text)[N], size_t size) {
    std::vector<uint8_t> buffer(size, 0);
    std::memcpy(buffer.data(), text, std::min(N, size - 1));
    return ctx.copyToGuest(ctx.arg(1), buffer).ok() ? 0 : -XEN_EFAULT;
}

} // namespace

int64_t hypercallXenVersion(HypercallContext& ctx) {
    switch (ctx.arg(0)) {
    case XENVER_version:
        return (kXenMajor << 16) | kXenMinor;
    case XENVER_extraversion:
        return copyString(ctx, kExtraVersion, sizeof(xen_extraversion_t));
    case XENVER_capabilities:
        return copyString(ctx, kCapabilities, sizeof(xen_capabilities_info_t));
    case XENVER_changeset:
        return copyString(ctx, "basalt", sizeof(xen_changeset_info_t));
    case XENVER_compile_info: {
        xen_compile_info_t info{};
        std::strncpy(info.compiler, "basalt", sizeof info.compiler - 1);
        std::strncpy(info.compile_by, "basalt", sizeof info.compile_by - 1);
        return ctx.writeGuest(ctx.arg(1), info).ok() ? 0 : -XEN_EFAULT;
    }
    case XENVER_platform_parameters: {
        // An HVM guest has no hypervisor hole in its address space.
        if (ctx.longMode())
            return ctx.writeGuest<uint64_t>(ctx.arg(1), 0).ok() ? 0 : -XEN_EFAULT;
        return ctx.writeGuest<uint32_t>(ctx.arg(1), 0).ok() ? 0 : -XEN_EFAULT;
    }
    case XENVER_get_features: {
        auto info = ctx.readGuest<xen_feature_info_t>(ctx.arg(1));
        if (!info.ok())
            return -XEN_EFAULT;
        if (info->submap_idx != 0)
            return -XEN_EINVAL;
        info->submap = kFeatures;
        return ctx.writeGuest(ctx.arg(1), *info).ok() ? 0 : -XEN_EFAULT;
    }
    case XENVER_pagesize:
        return ctx.arg(1) == 0 ? kPageSize : -XEN_EINVAL;
    case XENVER_guest_handle: {
        // common/kernel.c copies d->handle, the UUID xl created the domain with.
        xen_domain_handle_t handle{};
        static_assert(sizeof handle == std::tuple_size_v<decltype(XenPlatformConfig::handle)>);
        std::memcpy(handle, ctx.xen().config().handle.data(), sizeof handle);
        return ctx.copyToGuest(ctx.arg(1), {handle, sizeof handle}).ok() ? 0 : -XEN_EFAULT;
    }
    default:
        reportUnknownOnce("xen_version", __HYPERVISOR_xen_version, ctx.arg(0));
        return -XEN_ENOSYS;
    }
}

} // namespace basalt::xen
