#pragma once
// Xen's debug keys, as far as a guest can see them. Under Xen, the 'q' key
// (dump domain and vCPU state) ends by sending VIRQ_DEBUG to every vCPU of
// every domain (keyhandler.c dump_domains()); no other key reaches a guest.
// basalt-vmm takes them from the control socket ("debug-key").

namespace basalt::xen {

class XenPlatform;

inline constexpr char kDebugKeyDumpDomains = 'q';

// Acts on one debug key; false if the key is not one Basalt knows.
bool handleDebugKey(XenPlatform& xen, char key);

} // namespace basalt::xen
