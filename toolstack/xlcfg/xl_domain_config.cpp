#include "toolstack/xlcfg/xl_domain_config.h"

#include "vmm/builder/domain_uuid.h"
#include "vmm/builder/smbios_strings.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <map>

namespace basalt::xlcfg {

namespace {

constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxBootOrderLength = 4;
constexpr uint32_t kPlatformDeviceIdXen = 1;
constexpr uint32_t kPlatformDeviceIdWindowsUpdate = 2;

Error lineError(const XlSetting& s, const std::string& message) {
    return makeError(EINVAL,
                     "line " + std::to_string(s.value.line) + ": " + s.key + ": " + message);
}

Result<std::string> asString(const XlSetting& s) {
    if (s.value.kind != XlValue::Kind::String)
        return lineError(s, "expected a \"string\"");
    return s.value.text;
}

Result<uint64_t> asNumber(const XlSetting& s, uint64_t min, uint64_t max) {
    if (s.value.kind != XlValue::Kind::Number)
        return lineError(s, "expected a number");
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.value.text.c_str(), &end, 0);
    if (errno == ERANGE || *end != '\0' || v < min || v > max)
        return lineError(s, "'" + s.value.text + "' is not between " + std::to_string(min) +
                                " and " + std::to_string(max));
    return static_cast<uint64_t>(v);
}

Result<bool> asBool(const XlSetting& s) {
    auto v = asNumber(s, 0, 1);
    if (!v.ok())
        return lineError(s, "expected 0 or 1");
    return *v == 1;
}

// Printable ASCII without the characters that split QEMU option strings.
bool isPlainText(const std::string& text) {
    for (char c : text)
        if (c < 0x21 || c > 0x7E || c == ',')
            return false;
    return !text.empty();
}

bool isHostName(const std::string& text) {
    for (char c : text)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-')
            return false;
    return !text.empty();
}

Result<std::string> absolutePath(const XlSetting& s, const std::string& path) {
    if (path.empty() || path[0] != '/')
        return lineError(s, "'" + path + "' is not an absolute path");
    if (!isPlainText(path))
        return lineError(s, "path '" + path + "' has spaces, commas or control characters");
    return path;
}

struct Interpreter {
    XlDomainConfig config;
    std::optional<uint64_t> vncEnabled;
    std::optional<std::string> vncListen;
    std::optional<uint64_t> vncDisplay;
    const XlSetting* bios = nullptr;
    const XlSetting* firmware = nullptr;

    using Handler = std::function<Status(Interpreter&, const XlSetting&)>;

    static Result<LifecycleAction> action(const XlSetting& s) {
        auto text = asString(s);
        if (!text.ok())
            return text.error();
        auto a = lifecycleActionFromName(*text);
        if (!a)
            return lineError(s, "'" + *text +
                                    "' is not destroy, restart or preserve (rename-restart, "
                                    "coredump-* and soft-reset are not served)");
        return *a;
    }

    static const std::map<std::string, Handler>& handlers() {
        static const std::map<std::string, Handler> table = {
            {"type",
             [](Interpreter&, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 if (*t != "hvm")
                     return lineError(s, "'" + *t + "' is not served: Basalt runs type=\"hvm\"");
                 return {};
             }},
            {"builder",
             [](Interpreter&, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 if (*t != "hvm")
                     return lineError(s, "'" + *t + "' is not served: Basalt runs hvm guests");
                 return {};
             }},
            {"name",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 if (t->empty() || t->size() > kMaxNameLength || !isPlainText(*t) ||
                     t->find('/') != std::string::npos)
                     return lineError(s, "a name is 1 to " + std::to_string(kMaxNameLength) +
                                             " printable characters without spaces, ',' or '/'");
                 in.config.name = *t;
                 return {};
             }},
            {"uuid",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 auto uuid = parseDomainUuid(*t);
                 if (!uuid.ok())
                     return lineError(s, uuid.error().message);
                 in.config.uuid = formatDomainUuid(*uuid);
                 return {};
             }},
            {"memory",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto v = asNumber(s, 1, kMaxConfigMemoryMiB);
                 if (!v.ok())
                     return v.error();
                 in.config.memoryMiB = *v;
                 return {};
             }},
            {"vcpus",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto v = asNumber(s, 1, kMaxConfigVcpus);
                 if (!v.ok())
                     return v.error();
                 in.config.vcpus = static_cast<uint32_t>(*v);
                 return {};
             }},
            {"disk",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 if (s.value.kind != XlValue::Kind::List)
                     return lineError(s, "expected a list: disk = [ 'DISKSPEC', ... ]");
                 in.config.disks.clear();
                 for (size_t i = 0; i < s.value.items.size(); ++i) {
                     const XlValue& item = s.value.items[i];
                     if (item.kind != XlValue::Kind::String)
                         return makeError(EINVAL, "line " + std::to_string(item.line) +
                                                      ": disk: item " + std::to_string(i + 1) +
                                                      " is not a \"string\"");
                     auto disk = devmodel::parseXlDiskSpec(item.text);
                     if (!disk.ok())
                         return makeError(EINVAL, "line " + std::to_string(item.line) +
                                                      ": disk: " + disk.error().message);
                     in.config.disks.push_back(std::move(*disk));
                 }
                 return {};
             }},
            {"smbios",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 if (s.value.kind != XlValue::Kind::List)
                     return lineError(s, "expected a list: smbios = [ 'KEY=VALUE', ... ]");
                 in.config.smbios.clear();
                 SmbiosStrings checked; // numbers the oem entries and finds duplicates
                 for (size_t i = 0; i < s.value.items.size(); ++i) {
                     const XlValue& item = s.value.items[i];
                     if (item.kind != XlValue::Kind::String)
                         return makeError(EINVAL, "line " + std::to_string(item.line) +
                                                      ": smbios: item " + std::to_string(i + 1) +
                                                      " is not a \"string\"");
                     if (Status added = addSmbiosEntry(checked, item.text); !added.ok())
                         return makeError(EINVAL, "line " + std::to_string(item.line) + ": " +
                                                      added.error().message);
                     in.config.smbios.push_back(item.text);
                 }
                 return {};
             }},
            {"boot",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 bool ok = !t->empty() && t->size() <= kMaxBootOrderLength;
                 for (char c : *t)
                     ok = ok && (c == 'a' || c == 'c' || c == 'd' || c == 'n');
                 if (!ok)
                     return lineError(s, "'" + *t +
                                             "' is not a boot order of a (floppy), c (disk), "
                                             "d (CD-ROM), n (network)");
                 in.config.boot = *t;
                 return {};
             }},
            {"bios",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 if (*t != "seabios" && *t != "ovmf")
                     return lineError(s, "'" + *t + "' is not seabios or ovmf");
                 in.bios = &s;
                 return {};
             }},
            {"firmware",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 if (*t != "bios" && *t != "seabios" && *t != "uefi" && *t != "ovmf")
                     return lineError(s, "'" + *t + "' is not bios, seabios, uefi or ovmf");
                 in.firmware = &s;
                 return {};
             }},
            {"firmware_override",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 auto path = absolutePath(s, *t);
                 if (!path.ok())
                     return path.error();
                 in.config.firmwareOverride = *path;
                 return {};
             }},
            {"vga",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 if (*t != "cirrus" && *t != "stdvga" && *t != "none")
                     return lineError(s, "'" + *t + "' is not cirrus, stdvga or none");
                 in.config.vga = *t;
                 return {};
             }},
            {"stdvga", // the deprecated boolean form of vga="stdvga"
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto b = asBool(s);
                 if (!b.ok())
                     return b.error();
                 if (!in.config.vga || *b)
                     in.config.vga = *b ? "stdvga" : "cirrus";
                 return {};
             }},
            {"videoram",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto v = asNumber(s, 1, kMaxVideoRamMiB);
                 if (!v.ok())
                     return v.error();
                 in.config.videoRamMiB = static_cast<uint32_t>(*v);
                 return {};
             }},
            {"vnc",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto b = asBool(s);
                 if (!b.ok())
                     return b.error();
                 in.vncEnabled = *b;
                 return {};
             }},
            {"vnclisten",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 in.vncListen = *t;
                 return {};
             }},
            {"vncdisplay",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto v = asNumber(s, 0, kMaxVncDisplay);
                 if (!v.ok())
                     return v.error();
                 in.vncDisplay = *v;
                 return {};
             }},
            {"vncpasswd",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto t = asString(s);
                 if (!t.ok())
                     return t.error();
                 in.config.vncPassword = *t;
                 return {};
             }},
            {"serial",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 const XlValue* v = &s.value;
                 if (v->kind == XlValue::Kind::List) {
                     if (v->items.size() != 1)
                         return lineError(s, "one serial port is served (a list of one item)");
                     v = &v->items[0];
                 }
                 if (v->kind != XlValue::Kind::String)
                     return lineError(s, "expected a \"string\"");
                 const std::string& t = v->text;
                 if (t == "pty" || t == "none") {
                     in.config.serial = t;
                 } else if (t.rfind("file:", 0) == 0) {
                     auto path = absolutePath(s, t.substr(5));
                     if (!path.ok())
                         return path.error();
                     in.config.serial = t;
                 } else {
                     return lineError(s, "'" + t + "' is not pty, none or file:/PATH");
                 }
                 return {};
             }},
            {"on_poweroff",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto a = action(s);
                 if (!a.ok())
                     return a.error();
                 in.config.onPoweroff = *a;
                 return {};
             }},
            {"on_reboot",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto a = action(s);
                 if (!a.ok())
                     return a.error();
                 in.config.onReboot = *a;
                 return {};
             }},
            {"on_crash",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto a = action(s);
                 if (!a.ok())
                     return a.error();
                 in.config.onCrash = *a;
                 return {};
             }},
            {"xen_platform_pci",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 auto b = asBool(s);
                 if (!b.ok())
                     return b.error();
                 in.config.xenPlatformPci = *b;
                 return {};
             }},
            {"device_id",
             [](Interpreter& in, const XlSetting& s) -> Status {
                 // XenServer writes it as a string ("0002"), a number is fine too.
                 uint64_t id = 0;
                 if (s.value.kind == XlValue::Kind::String) {
                     const std::string& t = s.value.text;
                     char* end = nullptr;
                     errno = 0;
                     id = std::strtoull(t.c_str(), &end, 16);
                     if (t.empty() || t.size() > 4 || *end != '\0' || errno)
                         id = 0;
                 } else {
                     auto v = asNumber(s, 0, 0xFFFF);
                     if (!v.ok())
                         return v.error();
                     id = *v;
                 }
                 if (id != kPlatformDeviceIdXen && id != kPlatformDeviceIdWindowsUpdate)
                     return lineError(s, "the platform device id is 1 (\"0001\") or 2 (\"0002\")");
                 in.config.deviceId = static_cast<uint32_t>(id);
                 return {};
             }},
        };
        return table;
    }

    Status finish() {
        if (bios && firmware) {
            std::string a = bios->value.text;
            std::string b = firmware->value.text == "bios"   ? "seabios"
                            : firmware->value.text == "uefi" ? "ovmf"
                                                             : firmware->value.text;
            if (a != b)
                return lineError(*firmware, "'" + firmware->value.text + "' contradicts bios=\"" +
                                                a + "\" on line " +
                                                std::to_string(bios->value.line));
        }
        if (bios)
            config.bios = bios->value.text;
        else if (firmware)
            config.bios = firmware->value.text == "bios" || firmware->value.text == "seabios"
                              ? "seabios"
                              : "ovmf";
        // xl enables VNC by default; Basalt only when the config asks for it,
        // so that guests never race for display :0 unasked.
        bool wantVnc = vncEnabled ? *vncEnabled != 0 : (vncListen || vncDisplay);
        if (wantVnc) {
            std::string listen = vncListen.value_or("127.0.0.1");
            if (listen.rfind("unix:", 0) == 0) {
                std::string path = listen.substr(5);
                if (path.empty() || path[0] != '/' || !isPlainText(path))
                    return makeError(EINVAL, "vnclisten: '" + listen +
                                                 "' needs an absolute path without spaces or ','");
                config.vnc = listen;
            } else {
                uint64_t display = vncDisplay.value_or(0);
                if (auto colon = listen.rfind(':'); colon != std::string::npos) {
                    std::string num = listen.substr(colon + 1);
                    char* end = nullptr;
                    errno = 0;
                    display = std::strtoull(num.c_str(), &end, 10);
                    if (num.empty() || *end != '\0' || errno || display > kMaxVncDisplay)
                        return makeError(EINVAL, "vnclisten: '" + listen +
                                                     "' is not ADDRESS[:DISPLAY] or unix:/PATH");
                    listen = listen.substr(0, colon);
                }
                if (!isHostName(listen))
                    return makeError(EINVAL, "vnclisten: '" + listen +
                                                 "' is not a host name or IPv4 address");
                config.vnc = listen + ":" + std::to_string(display);
            }
        }
        return {};
    }
};

} // namespace

const char* lifecycleActionName(LifecycleAction action) {
    switch (action) {
    case LifecycleAction::Destroy:
        return "destroy";
    case LifecycleAction::Restart:
        return "restart";
    case LifecycleAction::Preserve:
        return "preserve";
    }
    return "?";
}

std::optional<LifecycleAction> lifecycleActionFromName(std::string_view name) {
    for (auto a : {LifecycleAction::Destroy, LifecycleAction::Restart, LifecycleAction::Preserve})
        if (name == lifecycleActionName(a))
            return a;
    return std::nullopt;
}

Result<XlDomainConfig> interpretXlConfig(const XlConfigFile& file) {
    Interpreter in;
    const auto& handlers = Interpreter::handlers();
    for (const XlSetting& s : file.settings) {
        auto it = handlers.find(s.key);
        if (it == handlers.end()) {
            in.config.warnings.push_back("line " + std::to_string(s.line) + ": unknown key '" +
                                         s.key + "' ignored");
            continue;
        }
        BASALT_TRY(it->second(in, s));
    }
    BASALT_TRY(in.finish());
    return std::move(in.config);
}

} // namespace basalt::xlcfg
