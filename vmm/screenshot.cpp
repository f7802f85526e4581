#include "vmm/screenshot.h"

#include "base/log.h"
#include "base/unique_fd.h"

#include <array>
#include <cctype>
#include <cstring>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

namespace basalt {

BASALT_LOG_CATEGORY(Screenshot, "screenshot");

namespace {

constexpr uint32_t kPpmMaxval = 255;
constexpr size_t kRgbBytes = 3;
constexpr uint8_t kPngColourTypeRgb = 2;
constexpr uint8_t kPngBitDepth = 8;
constexpr uint8_t kPngFilterNone = 0;
constexpr std::array<uint8_t, 8> kPngSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
// A QMP reply line is small; a flood of events is not read forever.
constexpr size_t kMaxQmpLine = 64 * 1024;
constexpr int kMaxQmpMessages = 256;

// Reads a header token: skips whitespace and '#' comments, then digits.
Result<uint32_t> ppmNumber(std::span<const uint8_t> bytes, size_t& pos, const char* what) {
    for (;;) {
        while (pos < bytes.size() && std::isspace(bytes[pos]))
            ++pos;
        if (pos < bytes.size() && bytes[pos] == '#') {
            while (pos < bytes.size() && bytes[pos] != '\n')
                ++pos;
            continue;
        }
        break;
    }
    uint64_t value = 0;
    size_t start = pos;
    while (pos < bytes.size() && std::isdigit(bytes[pos]) && pos - start < 10)
        value = value * 10 + (bytes[pos++] - '0');
    if (pos == start || value > UINT32_MAX || (pos < bytes.size() && std::isdigit(bytes[pos])))
        return makeError(EINVAL, std::string("PPM: bad ") + what);
    return static_cast<uint32_t>(value);
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<uint8_t>(v >> shift));
}

void putChunk(std::vector<uint8_t>& out, const char type[4], std::span<const uint8_t> data) {
    put32(out, static_cast<uint32_t>(data.size()));
    size_t typeAt = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data.begin(), data.end());
    uLong crc = crc32(0, out.data() + typeAt, static_cast<uInt>(4 + data.size()));
    put32(out, static_cast<uint32_t>(crc));
}

Status writeWholeFile(const std::string& path, const std::vector<uint8_t>& bytes) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd)
        return errnoError("cannot create '" + path + "'");
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return errnoError("cannot write '" + path + "'");
        done += static_cast<size_t>(n);
    }
    return {};
}

Result<std::vector<uint8_t>> readBoundedFile(const std::string& path, size_t limit) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd)
        return errnoError("cannot open the screendump '" + path + "'");
    struct stat st;
    if (::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode))
        return makeError(EINVAL, "the screendump '" + path + "' is not a regular file");
    std::vector<uint8_t> bytes;
    std::array<uint8_t, 65536> buf;
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errnoError("cannot read '" + path + "'");
        if (n == 0)
            return bytes;
        if (bytes.size() + static_cast<size_t>(n) > limit)
            return makeError(EFBIG, "the screendump '" + path + "' is too large");
        bytes.insert(bytes.end(), buf.begin(), buf.begin() + n);
    }
}

// One QMP conversation on a blocking socket with a receive timeout.
class QmpConnection {
public:
    static Result<QmpConnection> connect(const std::string& path,
                                         std::chrono::milliseconds timeout) {
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd)
            return errnoError("socket");
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.size() >= sizeof addr.sun_path)
            return makeError(ENAMETOOLONG, "QMP socket path is too long");
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        timeval tv{static_cast<time_t>(timeout.count() / 1000),
                   static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
            return errnoError("cannot connect to QEMU's QMP socket '" + path + "'");
        QmpConnection c(std::move(fd));
        auto greeting = c.readMessage();
        if (!greeting.ok())
            return greeting.error();
        if (!greeting->contains("QMP"))
            return makeError(EPROTO, "QMP: no greeting from QEMU");
        auto caps = c.execute({{"execute", "qmp_capabilities"}});
        if (!caps.ok())
            return caps.error();
        return c;
    }

    // Sends a command and returns its "return" value, skipping events.
    Result<nlohmann::json> execute(const nlohmann::json& command) {
        std::string line = command.dump() + "\n";
        if (::send(fd_.get(), line.data(), line.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(line.size()))
            return errnoError("QMP: cannot send to QEMU");
        for (int i = 0; i < kMaxQmpMessages; ++i) {
            auto message = readMessage();
            if (!message.ok())
                return message.error();
            if (auto it = message->find("error"); it != message->end())
                return makeError(EIO, "QMP " + command.value("execute", std::string()) + ": " +
                                          it->dump());
            if (auto it = message->find("return"); it != message->end())
                return *it;
        }
        return makeError(EPROTO, "QMP: no reply among QEMU's events");
    }

private:
    explicit QmpConnection(UniqueFd fd) : fd_(std::move(fd)) {}

    Result<nlohmann::json> readMessage() {
        for (;;) {
            if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
                std::string line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                auto json = nlohmann::json::parse(line, nullptr, false);
                if (json.is_discarded() || !json.is_object())
                    return makeError(EPROTO, "QMP: QEMU sent something that is not a JSON object");
                return json;
            }
            if (buffer_.size() > kMaxQmpLine)
                return makeError(EPROTO, "QMP: a line from QEMU is too long");
            char chunk[4096];
            ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return errnoError("QMP: no answer from QEMU");
            if (n == 0)
                return makeError(ECONNRESET, "QMP: QEMU closed the connection");
            buffer_.append(chunk, static_cast<size_t>(n));
        }
    }

    UniqueFd fd_;
    std::string buffer_;
};

} // namespace

Result<RgbImage> parsePpm(std::span<const uint8_t> bytes) {
    if (bytes.size() < 2 || bytes[0] != 'P' || bytes[1] != '6')
        return makeError(EINVAL, "PPM: not a binary PPM (P6)");
    size_t pos = 2;
    auto width = ppmNumber(bytes, pos, "width");
    if (!width.ok())
        return width.error();
    auto height = ppmNumber(bytes, pos, "height");
    if (!height.ok())
        return height.error();
    auto maxval = ppmNumber(bytes, pos, "maxval");
    if (!maxval.ok())
        return maxval.error();
    if (*maxval != kPpmMaxval)
        return makeError(EINVAL, "PPM: maxval " + std::to_string(*maxval) + " is not 255");
    if (*width == 0 || *height == 0 || *width > kMaxScreenDimension ||
        *height > kMaxScreenDimension || static_cast<uint64_t>(*width) * *height > kMaxScreenPixels)
        return makeError(EINVAL, "PPM: size " + std::to_string(*width) + "x" +
                                     std::to_string(*height) + " is out of range");
    // Exactly one whitespace byte separates the header from the pixels.
    if (pos >= bytes.size() || !std::isspace(bytes[pos]))
        return makeError(EINVAL, "PPM: no whitespace after the header");
    ++pos;
    const size_t pixels = static_cast<size_t>(*width) * *height * kRgbBytes;
    if (bytes.size() - pos != pixels)
        return makeError(EINVAL, "PPM: " + std::to_string(bytes.size() - pos) +
                                     " bytes of pixels, expected " + std::to_string(pixels));
    RgbImage image;
    image.width = *width;
    image.height = *height;
    image.rgb.assign(bytes.begin() + static_cast<ptrdiff_t>(pos), bytes.end());
    return image;
}

Result<std::vector<uint8_t>> encodePng(const RgbImage& image) {
    const size_t rowBytes = static_cast<size_t>(image.width) * kRgbBytes;
    if (image.width == 0 || image.height == 0 || image.rgb.size() != rowBytes * image.height)
        return makeError(EINVAL, "PNG: the image has no pixels or the wrong number of bytes");
    // Each row is prefixed with its filter type.
    std::vector<uint8_t> raw;
    raw.reserve((rowBytes + 1) * image.height);
    for (uint32_t y = 0; y < image.height; ++y) {
        raw.push_back(kPngFilterNone);
        auto row = image.rgb.begin() + static_cast<ptrdiff_t>(y * rowBytes);
        raw.insert(raw.end(), row, row + static_cast<ptrdiff_t>(rowBytes));
    }
    uLongf packedSize = compressBound(static_cast<uLong>(raw.size()));
    std::vector<uint8_t> packed(packedSize);
    if (compress2(packed.data(), &packedSize, raw.data(), static_cast<uLong>(raw.size()),
                  Z_DEFAULT_COMPRESSION) != Z_OK)
        return makeError(ENOMEM, "PNG: zlib could not compress the image");
    packed.resize(packedSize);

    std::vector<uint8_t> png(kPngSignature.begin(), kPngSignature.end());
    std::vector<uint8_t> ihdr;
    put32(ihdr, image.width);
    put32(ihdr, image.height);
    ihdr.insert(ihdr.end(), {kPngBitDepth, kPngColourTypeRgb, 0 /*deflate*/, 0 /*adaptive*/,
                             0 /*no interlace*/});
    putChunk(png, "IHDR", ihdr);
    putChunk(png, "IDAT", packed);
    putChunk(png, "IEND", {});
    return png;
}

Status takeScreenshot(const std::string& qmpSocket, const std::string& ppmPath,
                      const std::string& pngPath, std::chrono::milliseconds timeout) {
    auto qmp = QmpConnection::connect(qmpSocket, timeout);
    if (!qmp.ok())
        return qmp.error();
    ::unlink(ppmPath.c_str()); // never read a stale dump
    auto dumped = qmp->execute({{"execute", "screendump"}, {"arguments", {{"filename", ppmPath}}}});
    if (!dumped.ok())
        return dumped.error();
    const size_t limit = 64 + kMaxScreenPixels * kRgbBytes;
    auto bytes = readBoundedFile(ppmPath, limit);
    ::unlink(ppmPath.c_str());
    if (!bytes.ok())
        return bytes.error();
    auto image = parsePpm(*bytes);
    if (!image.ok())
        return image.error();
    auto png = encodePng(*image);
    if (!png.ok())
        return png.error();
    BASALT_TRY(writeWholeFile(pngPath, *png));
    LOG(Screenshot, Info, "screenshot %ux%u written to %s", image->width, image->height,
        pngPath.c_str());
    return {};
}

} // namespace basalt
