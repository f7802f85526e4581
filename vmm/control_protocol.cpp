#include "vmm/control_protocol.h"

#include <nlohmann/json.hpp>

namespace basalt {

namespace {

using json = nlohmann::json;

std::string errorReply(const std::string& message) {
    return json{{"ok", false}, {"error", message}}.dump();
}

json statusJson(const DomainStatus& s) {
    json vcpus = json::array();
    for (VcpuState v : s.vcpus)
        vcpus.push_back(vcpuStateName(v));
    json reply{{"ok", true},
               {"name", s.name},
               {"state", domainStateName(s.state)},
               {"vcpus", vcpus},
               {"memory_bytes", s.memoryBytes}};
    if (!s.stopReason.empty())
        reply["stop_reason"] = s.stopReason;
    return reply;
}

} // namespace

std::string handleControlRequest(std::string_view line, ControlTarget& target) {
    json request = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded())
        return errorReply("request is not valid JSON");
    if (!request.is_object())
        return errorReply("request must be a JSON object");
    auto it = request.find("command");
    if (it == request.end() || !it->is_string())
        return errorReply("request needs a \"command\" string");
    const std::string command = it->get<std::string>();

    if (command == "status")
        return statusJson(target.status()).dump();
    if (command == "pause") {
        target.pause();
        return json{{"ok", true}, {"state", domainStateName(target.status().state)}}.dump();
    }
    if (command == "resume") {
        target.resume();
        return json{{"ok", true}, {"state", domainStateName(target.status().state)}}.dump();
    }
    if (command == "destroy") {
        target.destroy();
        return json{{"ok", true}, {"state", "stopping"}}.dump();
    }
    if (command == "debug-key") {
        auto key = request.find("key");
        if (key == request.end() || !key->is_string() || key->get<std::string>().size() != 1)
            return errorReply("debug-key needs a one-character \"key\" string");
        char k = key->get<std::string>()[0];
        if (!target.debugKey(k))
            return errorReply(std::string("unsupported debug key '") + k + "' (known: q)");
        return json{{"ok", true}}.dump();
    }
    if (command == "screenshot") {
        auto path = request.find("path");
        if (path == request.end() || !path->is_string() || path->get<std::string>().empty() ||
            path->get<std::string>()[0] != '/')
            return errorReply("screenshot needs an absolute \"path\" string");
        if (auto s = target.screenshot(path->get<std::string>()); !s.ok())
            return errorReply("screenshot: " + s.error().message);
        return json{{"ok", true}, {"path", path->get<std::string>()}}.dump();
    }
    return errorReply("unknown command '" + command +
                      "' (known: status, pause, resume, destroy, debug-key, screenshot)");
}

} // namespace basalt
