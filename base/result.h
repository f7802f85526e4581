#pragma once
// Result<T>: a value or an errno-carrying error. Modules return these instead of
// throwing (DESIGN.md decision 8); the failure site logs, callers propagate.

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace basalt {

struct Error {
    int code = EINVAL;   // positive errno value
    std::string message; // human-readable context, already says what failed
};

inline Error makeError(int code, std::string message) {
    return Error{code, std::move(message)};
}

// Builds an Error from the current errno, prefixed with what was attempted.
Error errnoError(const std::string& what);

template <typename T> class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <> class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return error_; }

private:
    Error error_{0, {}};
    bool ok_ = true;
};

using Status = Result<void>;

} // namespace basalt

// Propagates an error from an expression returning Result<...>.
#define BASALT_TRY(expr)                                                                           \
    do {                                                                                           \
        auto basalt_try_result_ = (expr);                                                          \
        if (!basalt_try_result_.ok())                                                              \
            return basalt_try_result_.error();                                                     \
    } while (0)
