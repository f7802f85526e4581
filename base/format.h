#pragma once
// printf-style formatting into a std::string, for error messages (GCC 12 has
// no std::format).

#include <string>

namespace basalt {

std::string formatString(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// The value of one hexadecimal digit (either case), or -1 if `c` is none.
int hexDigitValue(char c);

} // namespace basalt
