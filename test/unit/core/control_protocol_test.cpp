#include "vmm/control_protocol.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace basalt;
using nlohmann::json;

namespace {

class FakeTarget : public ControlTarget {
public:
    void pause() override { state = DomainState::Paused; }
    void resume() override { state = DomainState::Running; }
    void destroy() override { destroyed = true; }
    DomainStatus status() const override {
        DomainStatus s;
        s.name = "web01";
        s.state = state;
        s.vcpus = {VcpuState::Running, VcpuState::Paused};
        s.memoryBytes = 64 << 20;
        return s;
    }
    DomainState state = DomainState::Running;
    bool destroyed = false;
};

json ask(FakeTarget& target, const std::string& line) {
    return json::parse(handleControlRequest(line, target));
}

} // namespace

TEST_CASE("control protocol commands", "[control]") {
    FakeTarget target;
    json status = ask(target, R"({"command":"status"})");
    CHECK(status["ok"] == true);
    CHECK(status["name"] == "web01");
    CHECK(status["state"] == "running");
    CHECK(status["vcpus"] == json::array({"running", "paused"}));
    CHECK(status["memory_bytes"] == 64 << 20);

    CHECK(ask(target, R"({"command":"pause"})")["state"] == "paused");
    CHECK(target.state == DomainState::Paused);
    CHECK(ask(target, R"({"command":"resume"})")["state"] == "running");
    CHECK_FALSE(target.destroyed);
    CHECK(ask(target, R"({"command":"destroy"})")["ok"] == true);
    CHECK(target.destroyed);
}

TEST_CASE("control protocol rejects bad requests without throwing", "[control]") {
    FakeTarget target;
    for (const char* bad : {"", "{", "[]", "42", "\"status\"", R"({"command":3})", R"({"cmd":"x"})",
                            R"({"command":"reboot-the-host"})", "\xff\xfe"}) {
        json reply = ask(target, bad);
        CHECK(reply["ok"] == false);
        CHECK(reply["error"].is_string());
    }
    CHECK(target.state == DomainState::Running);
}
