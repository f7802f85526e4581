#include "toolstack/xenstored/fd_ring.h"

#include "base/log.h"
#include "toolstack/xenstored/server.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace basalt::xenstore {

BASALT_LOG_CATEGORY(XsFdRing, "xenstore-ring");

namespace {
constexpr uint64_t kEventfdIncrement = 1;
} // namespace

void detail::FdRingResources::notify() {
    uint64_t one = kEventfdIncrement;
    // EAGAIN means the counter is saturated: the guest is notified anyway.
    if (::write(storeToGuest.get(), &one, sizeof(one)) < 0 && errno != EAGAIN)
        LOG_RATELIMITED(XsFdRing, Warn, "store->guest eventfd: %s", strerror(errno));
}

Result<std::shared_ptr<FdRingConnection>>
FdRingConnection::create(boost::asio::io_context& io, Server& server, DomId domid, RingFds fds) {
    if (!fds.page || !fds.guestToStore || !fds.storeToGuest)
        return makeError(EINVAL, "ring introduction needs a page fd and two eventfds");
    if (fds.pageOffset % kRingPageSize != 0)
        return makeError(EINVAL, "store page offset is not page aligned");
    struct stat st {};
    if (::fstat(fds.page.get(), &st) < 0)
        return errnoError("store page fd");
    // Past the end of the file, mmap succeeds and the first access faults.
    if (!S_ISREG(st.st_mode) || st.st_size < 0 ||
        fds.pageOffset > static_cast<uint64_t>(st.st_size) - kRingPageSize ||
        static_cast<uint64_t>(st.st_size) < kRingPageSize)
        return makeError(EINVAL, "store page offset is outside the page fd");
    auto page = MappedRegion::map(kRingPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fds.page.get(),
                                  static_cast<off_t>(fds.pageOffset));
    if (!page.ok())
        return page.error();
    detail::FdRingResources res;
    res.page = std::move(page.value());
    res.storeToGuest = std::move(fds.storeToGuest);
    std::shared_ptr<FdRingConnection> conn(
        new FdRingConnection(io, server, domid, std::move(res), std::move(fds.guestToStore)));
    conn->self_ = conn;
    conn->waitKick();
    // Requests the guest queued before we were listening; posted, so the
    // server has attached the connection by then.
    boost::asio::post(io, [weak = conn->self_] {
        if (auto self = weak.lock())
            self->kicked();
    });
    return conn;
}

FdRingConnection::FdRingConnection(boost::asio::io_context& io, Server& server, DomId domid,
                                   detail::FdRingResources resources, UniqueFd guestToStore)
    : detail::FdRingResources(std::move(resources)),
      RingConnection(server, domid, page.data(), *this), kicks_(io, guestToStore.release()) {}

FdRingConnection::~FdRingConnection() = default;

FdRingIntroducer FdRingConnection::introducer(boost::asio::io_context& io, Server& server) {
    return [&io, &server](DomId domid, RingFds fds) -> Result<std::shared_ptr<Connection>> {
        auto conn = create(io, server, domid, std::move(fds));
        if (!conn.ok())
            return conn.error();
        return std::shared_ptr<Connection>(std::move(conn.value()));
    };
}

void FdRingConnection::waitKick() {
    kicks_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                      [weak = self_](const boost::system::error_code& ec) {
                          auto self = weak.lock();
                          if (!self || ec || self->closed())
                              return;
                          uint64_t count = 0;
                          if (::read(self->kicks_.native_handle(), &count, sizeof(count)) < 0 &&
                              errno != EAGAIN) {
                              LOG_RATELIMITED(XsFdRing, Warn, "%s: guest->store eventfd: %s",
                                              self->describe().c_str(), strerror(errno));
                              self->close("event channel broken");
                              return;
                          }
                          self->kicked();
                          self->waitKick();
                      });
}

void FdRingConnection::onClose() {
    boost::system::error_code ignored;
    kicks_.cancel(ignored);
}

} // namespace basalt::xenstore
