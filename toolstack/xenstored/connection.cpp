#include "toolstack/xenstored/connection.h"

#include "base/log.h"

namespace basalt::xenstore {

BASALT_LOG_CATEGORY(XsConn, "xenstore");

void Connection::send(std::string bytes) {
    if (closed_)
        return;
    if (queue_.size() >= kMaxQueuedMessages || queuedBytes_ + bytes.size() > kMaxQueuedBytes) {
        LOG_RATELIMITED(XsConn, Warn, "%s: output queue full, client is not reading",
                        describe().c_str());
        close("output queue full");
        return;
    }
    queuedBytes_ += bytes.size();
    queue_.push_back(std::move(bytes));
    transmit();
}

void Connection::consumed(size_t bytes) {
    while (bytes > 0 && !queue_.empty()) {
        size_t left = queue_.front().size() - frontOffset_;
        size_t n = std::min(left, bytes);
        frontOffset_ += n;
        bytes -= n;
        if (frontOffset_ == queue_.front().size()) {
            queuedBytes_ -= queue_.front().size();
            queue_.pop_front();
            frontOffset_ = 0;
        }
    }
}

void Connection::clearQueue() {
    queue_.clear();
    queuedBytes_ = 0;
    frontOffset_ = 0;
}

void Connection::close(const char* reason) {
    if (closed_)
        return;
    closed_ = true;
    LOG(XsConn, Debug, "%s: closing: %s", describe().c_str(), reason);
    clearQueue();
    onClose();
}

} // namespace basalt::xenstore
