#pragma once
// Per-domain limits for unprivileged domains, with Xen 4.17's defaults. The
// domain that exceeds one gets an error (or, for outstanding requests, is not
// read from until it drains its replies); nobody else notices.

#include <cstddef>

#include "toolstack/xenstored/wire.h"

namespace basalt::xenstore {

struct Quotas {
    size_t maxNodes = 1000;                       // nodes owned by one domain
    size_t maxNodeSize = 2048;                    // accountedSize() of one node
    size_t maxWatches = 128;                      // watches per connection
    size_t maxTransactions = 10;                  // open transactions per connection
    size_t maxOutstanding = 20;                   // replies queued but not yet taken
    size_t maxPerms = 5;                          // permission entries per node
    size_t maxRelPathLen = XENSTORE_REL_PATH_MAX; // path length below a home
};

} // namespace basalt::xenstore
