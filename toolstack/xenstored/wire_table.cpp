// The {name, handler, flags} table, indexed by xsd_sockmsg_type.

#include "toolstack/xenstored/handlers.h"

#include <array>

namespace basalt::xenstore {

namespace {

constexpr auto makeTable() {
    std::array<WireEntry, XS_TYPE_COUNT> t{};
    t[XS_CONTROL] = {"CONTROL", handleControl, kWirePrivileged};
    t[XS_DIRECTORY] = {"DIRECTORY", handleDirectory, 0};
    t[XS_READ] = {"READ", handleRead, 0};
    t[XS_GET_PERMS] = {"GET_PERMS", handleGetPerms, 0};
    t[XS_WATCH] = {"WATCH", handleWatch, kWireNoTransaction};
    t[XS_UNWATCH] = {"UNWATCH", handleUnwatch, kWireNoTransaction};
    t[XS_TRANSACTION_START] = {"TRANSACTION_START", handleTransactionStart, 0};
    t[XS_TRANSACTION_END] = {"TRANSACTION_END", handleTransactionEnd, 0};
    t[XS_INTRODUCE] = {"INTRODUCE", handleIntroduce, kWirePrivileged};
    t[XS_RELEASE] = {"RELEASE", handleRelease, kWirePrivileged};
    t[XS_GET_DOMAIN_PATH] = {"GET_DOMAIN_PATH", handleGetDomainPath, 0};
    t[XS_WRITE] = {"WRITE", handleWrite, 0};
    t[XS_MKDIR] = {"MKDIR", handleMkdir, 0};
    t[XS_RM] = {"RM", handleRm, 0};
    t[XS_SET_PERMS] = {"SET_PERMS", handleSetPerms, 0};
    t[XS_WATCH_EVENT] = {"WATCH_EVENT", nullptr, 0};
    t[XS_ERROR] = {"ERROR", nullptr, 0};
    t[XS_IS_DOMAIN_INTRODUCED] = {"IS_DOMAIN_INTRODUCED", handleIsDomainIntroduced,
                                  kWirePrivileged};
    t[XS_RESUME] = {"RESUME", handleResume, kWirePrivileged};
    t[XS_SET_TARGET] = {"SET_TARGET", handleSetTarget, kWirePrivileged};
    t[XS_RESET_WATCHES] = {"RESET_WATCHES", handleResetWatches, 0};
    t[XS_DIRECTORY_PART] = {"DIRECTORY_PART", handleDirectoryPart, 0};
    return t;
}

constexpr auto kWireTable = makeTable();

} // namespace

const WireEntry* wireEntry(uint32_t type) {
    if (type >= kWireTable.size() || !kWireTable[type].name)
        return nullptr;
    return &kWireTable[type];
}

} // namespace basalt::xenstore
