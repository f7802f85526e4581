#include "toolstack/xenstored/persistence.h"

#include "base/format.h"
#include "base/log.h"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace basalt::xenstore {

BASALT_LOG_CATEGORY(XsPersist, "xenstore-persist");

namespace {

constexpr uint32_t kRecordMagic = 0x4a535842;   // "BXSJ"
constexpr uint32_t kSnapshotMagic = 0x53535842; // "BXSS"
constexpr uint32_t kDomainsMagic = 0x44535842;  // "BXSD"
constexpr uint32_t kNoTarget = 0xffffffffu;
constexpr char kDomainsSuffix[] = ".domains";
constexpr size_t kRecordHeader = 12; // magic, length, crc32
constexpr size_t kMaxRecord = 256 * 1024 * 1024;

uint32_t crc32(std::string_view data) {
    static const auto table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    uint32_t c = 0xffffffffu;
    for (unsigned char b : data)
        c = table[(c ^ b) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

void put32(std::string& out, uint32_t v) {
    out.append(reinterpret_cast<const char*>(&v), 4);
}
void putString(std::string& out, std::string_view s) {
    put32(out, static_cast<uint32_t>(s.size()));
    out.append(s);
}

struct Cursor {
    std::string_view data;
    bool ok = true;
    uint32_t u32() {
        if (data.size() < 4) {
            ok = false;
            return 0;
        }
        uint32_t v;
        std::memcpy(&v, data.data(), 4);
        data.remove_prefix(4);
        return v;
    }
    std::string str() {
        uint32_t n = u32();
        if (!ok || data.size() < n) {
            ok = false;
            return {};
        }
        std::string s(data.substr(0, n));
        data.remove_prefix(n);
        return s;
    }
};

std::string frame(uint32_t magic, const std::string& payload) {
    std::string out;
    put32(out, magic);
    put32(out, static_cast<uint32_t>(payload.size()));
    put32(out, crc32(payload));
    return out + payload;
}

// Returns the payload of the record at the start of `data`, or nullopt if torn.
std::optional<std::string_view> unframe(std::string_view data, uint32_t magic) {
    Cursor c{data};
    uint32_t m = c.u32(), len = c.u32(), crc = c.u32();
    if (!c.ok || m != magic || len > kMaxRecord || c.data.size() < len)
        return std::nullopt;
    std::string_view payload = c.data.substr(0, len);
    if (crc32(payload) != crc)
        return std::nullopt;
    return payload;
}

Status writeAll(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errnoError("write");
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

Result<std::string> readFile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd)
        return errnoError("open " + path);
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errnoError("read " + path);
        if (n == 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

std::string directoryOf(const std::string& file) {
    size_t slash = file.rfind('/');
    return slash == std::string::npos ? "." : (slash == 0 ? "/" : file.substr(0, slash));
}

} // namespace

std::string encodeOps(const std::vector<StoreOp>& ops) {
    std::string out;
    put32(out, static_cast<uint32_t>(ops.size()));
    for (const auto& op : ops) {
        out.push_back(static_cast<char>(op.kind));
        putString(out, op.path);
        if (op.kind != StoreOp::Kind::Put)
            continue;
        putString(out, op.node.value);
        put32(out, static_cast<uint32_t>(op.node.perms.size()));
        for (const auto& p : op.node.perms) {
            put32(out, p.id);
            out.push_back(static_cast<char>(p.bits));
        }
        put32(out, static_cast<uint32_t>(op.node.children.size()));
        for (const auto& c : op.node.children)
            putString(out, c);
    }
    return out;
}

bool decodeOps(std::string_view data, std::vector<StoreOp>* ops) {
    Cursor c{data};
    uint32_t count = c.u32();
    for (uint32_t i = 0; i < count && c.ok; i++) {
        if (c.data.empty())
            return false;
        StoreOp op;
        op.kind = static_cast<StoreOp::Kind>(c.data.front());
        c.data.remove_prefix(1);
        if (op.kind != StoreOp::Kind::Put && op.kind != StoreOp::Kind::Erase)
            return false;
        op.path = c.str();
        if (op.kind == StoreOp::Kind::Put) {
            op.node.value = c.str();
            uint32_t nperms = c.u32();
            for (uint32_t k = 0; k < nperms && c.ok; k++) {
                Perm p;
                p.id = c.u32();
                if (c.data.empty())
                    return false;
                p.bits = static_cast<uint8_t>(c.data.front()) & (kPermRead | kPermWrite);
                c.data.remove_prefix(1);
                op.node.perms.push_back(p);
            }
            uint32_t nchildren = c.u32();
            for (uint32_t k = 0; k < nchildren && c.ok; k++)
                op.node.children.push_back(c.str());
            if (op.node.perms.empty())
                return false;
        }
        if (!c.ok)
            return false;
        ops->push_back(std::move(op));
    }
    return c.ok && c.data.empty();
}

std::string encodeDomains(const std::vector<SavedDomain>& domains) {
    std::string out;
    put32(out, static_cast<uint32_t>(domains.size()));
    for (const auto& d : domains) {
        put32(out, d.domid);
        put32(out, static_cast<uint32_t>(d.mfn));
        put32(out, static_cast<uint32_t>(d.mfn >> 32));
        put32(out, d.port);
        put32(out, d.target ? *d.target : kNoTarget);
        put32(out, static_cast<uint32_t>(d.watches.size()));
        for (const auto& w : d.watches) {
            putString(out, w.path);
            putString(out, w.token);
            putString(out, w.relativeBase);
        }
    }
    return out;
}

bool decodeDomains(std::string_view data, std::vector<SavedDomain>* domains) {
    Cursor c{data};
    uint32_t count = c.u32();
    for (uint32_t i = 0; i < count && c.ok; i++) {
        SavedDomain d;
        d.domid = c.u32();
        uint64_t lo = c.u32();
        uint64_t hi = c.u32();
        d.mfn = lo | (hi << 32);
        d.port = c.u32();
        uint32_t target = c.u32();
        if (target != kNoTarget)
            d.target = target;
        uint32_t watches = c.u32();
        for (uint32_t k = 0; k < watches && c.ok; k++) {
            Watch w;
            w.path = c.str();
            w.token = c.str();
            w.relativeBase = c.str();
            d.watches.push_back(std::move(w));
        }
        if (!c.ok || d.domid == kDom0 || d.domid > kMaxDomId || d.port == 0 ||
            (d.target && *d.target > kMaxDomId))
            return false;
        domains->push_back(std::move(d));
    }
    return c.ok && c.data.empty();
}

Result<std::unique_ptr<Persistence>> Persistence::open(const std::string& file, Tree& tree) {
    std::unique_ptr<Persistence> p(new Persistence(file, tree));
    BASALT_TRY(p->load());
    BASALT_TRY(p->loadDomains());
    BASALT_TRY(p->openJournal());
    return p;
}

Status Persistence::load() {
    auto snapshot = readFile(file_);
    if (snapshot.ok()) {
        auto payload = unframe(*snapshot, kSnapshotMagic);
        std::vector<StoreOp> ops;
        if (!payload || !decodeOps(*payload, &ops))
            return makeError(EINVAL, file_ + ": corrupt snapshot");
        tree_.clear();
        for (const auto& op : ops)
            tree_.apply(op);
    } else if (snapshot.error().code != ENOENT) {
        return snapshot.error();
    }
    auto journal = readFile(file_ + ".journal");
    if (!journal.ok())
        return journal.error().code == ENOENT ? Status{} : Status{journal.error()};
    std::string_view rest = *journal;
    size_t good = 0;
    size_t records = 0;
    while (!rest.empty()) {
        auto payload = unframe(rest, kRecordMagic);
        std::vector<StoreOp> ops;
        if (!payload || !decodeOps(*payload, &ops))
            break; // torn tail: never acknowledged
        for (const auto& op : ops)
            tree_.apply(op);
        size_t len = kRecordHeader + payload->size();
        rest.remove_prefix(len);
        good += len;
        records++;
    }
    if (good != journal->size()) {
        LOG(XsPersist, Warn, "%s.journal: discarding %zu torn bytes", file_.c_str(),
            journal->size() - good);
        if (::truncate((file_ + ".journal").c_str(), static_cast<off_t>(good)) != 0)
            return errnoError("truncate journal");
    }
    std::string problem;
    if (!tree_.checkConsistency(&problem))
        return makeError(EINVAL, file_ + ": inconsistent store: " + problem);
    LOG(XsPersist, Info, "loaded %zu nodes (%zu journal records)", tree_.size(), records);
    return {};
}

Status Persistence::loadDomains() {
    auto data = readFile(file_ + kDomainsSuffix);
    if (!data.ok())
        return data.error().code == ENOENT ? Status{} : Status{data.error()};
    auto payload = unframe(*data, kDomainsMagic);
    if (!payload || !decodeDomains(*payload, &savedDomains_))
        return makeError(EINVAL, file_ + kDomainsSuffix + ": corrupt");
    LOG(XsPersist, Info, "%zu introduced domains restored", savedDomains_.size());
    return {};
}

bool Persistence::saveDomains(const std::vector<SavedDomain>& domains) {
    auto st = replaceFile(file_ + kDomainsSuffix, frame(kDomainsMagic, encodeDomains(domains)));
    if (!st.ok()) {
        LOG(XsPersist, Error, "saving domains: %s", st.error().message.c_str());
        return false;
    }
    return true;
}

Status Persistence::replaceFile(const std::string& path, const std::string& data) {
    std::string tmp = path + ".tmp";
    {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd)
            return errnoError("open " + tmp);
        BASALT_TRY(writeAll(fd.get(), data));
        if (::fsync(fd.get()) != 0)
            return errnoError("fsync " + tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return errnoError("rename " + tmp);
    UniqueFd dir(::open(directoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir || ::fsync(dir.get()) != 0)
        return errnoError("fsync directory of " + path);
    return {};
}

Status Persistence::openJournal() {
    std::string path = file_ + ".journal";
    journal_ = UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!journal_)
        return errnoError("open " + path);
    struct stat st {};
    if (::fstat(journal_.get(), &st) != 0)
        return errnoError("fstat " + path);
    journalSize_ = static_cast<size_t>(st.st_size);
    return {};
}

bool Persistence::commit(const std::vector<StoreOp>& changes) {
    if (broken_) {
        LOG_RATELIMITED(XsPersist, Error, "journal unusable since an earlier failure");
        return false;
    }
    std::string record = frame(kRecordMagic, encodeOps(changes));
    auto st = writeAll(journal_.get(), record);
    if (st.ok() && ::fdatasync(journal_.get()) != 0)
        st = errnoError("fdatasync journal");
    if (!st.ok()) {
        LOG(XsPersist, Error, "journal: %s", st.error().message.c_str());
        // The caller rolls the change back: it must not come back on replay.
        if (::ftruncate(journal_.get(), static_cast<off_t>(journalSize_)) != 0 ||
            ::fdatasync(journal_.get()) != 0) {
            LOG(XsPersist, Error, "journal: cannot cut the refused record off: %s",
                strerror(errno));
            broken_ = true;
        }
        return false;
    }
    journalSize_ += record.size();
    if (journalSize_ >= kJournalCompactBytes) {
        auto c = compact();
        if (!c.ok())
            LOG(XsPersist, Error, "compaction failed: %s", c.error().message.c_str());
    }
    return true;
}

Status Persistence::compact() {
    std::vector<StoreOp> ops;
    ops.reserve(tree_.size());
    for (const auto& [path, node] : tree_.nodes())
        ops.push_back(StoreOp{StoreOp::Kind::Put, path, node});
    std::sort(ops.begin(), ops.end(),
              [](const StoreOp& a, const StoreOp& b) { return a.path < b.path; });
    BASALT_TRY(replaceFile(file_, frame(kSnapshotMagic, encodeOps(ops))));
    if (::ftruncate(journal_.get(), 0) != 0 || ::fdatasync(journal_.get()) != 0)
        return errnoError("truncate journal");
    journalSize_ = 0;
    return {};
}

} // namespace basalt::xenstore
