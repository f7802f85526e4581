// VNC Authentication's DES response: see vnc_des.h.

#include "devmodel/vnc_auth/vnc_des.h"

#include <nettle/des.h>

namespace basalt::vncauth {
namespace {

uint8_t reverseBits(uint8_t byte) {
    uint8_t out = 0;
    for (int bit = 0; bit < 8; ++bit)
        if (byte & (1u << bit))
            out = static_cast<uint8_t>(out | (0x80u >> bit));
    return out;
}

} // namespace

DesKey vncDesKey(std::string_view password) {
    DesKey key{};
    for (size_t i = 0; i < key.size() && i < password.size(); ++i)
        key[i] = reverseBits(static_cast<uint8_t>(password[i]));
    return key;
}

Challenge vncAuthResponse(std::string_view password, const Challenge& challenge) {
    const DesKey key = vncDesKey(password);
    des_ctx ctx;
    // des_set_key returns 0 for DES's weak keys but installs the schedule
    // anyway; a password that maps to one still has to work as clients
    // compute it, so the result is deliberately ignored.
    (void)des_set_key(&ctx, key.data());
    Challenge response{};
    // ECB over the two 8-byte halves: nettle's des_encrypt is block-wise.
    des_encrypt(&ctx, challenge.size(), response.data(), challenge.data());
    return response;
}

bool constantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    if (a.size() != b.size())
        return false;
    uint8_t diff = 0;
    for (size_t i = 0; i < a.size(); ++i)
        diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
    return diff == 0;
}

} // namespace basalt::vncauth
