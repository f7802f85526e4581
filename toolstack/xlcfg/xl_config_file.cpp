#include "toolstack/xlcfg/xl_config_file.h"

#include "base/format.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

namespace basalt::xlcfg {

namespace {

constexpr size_t kMaxKeyLength = 128;

bool isKeyStart(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool isKeyChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// A recursive-descent reader over the whole text; one instance per parse.
class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    Result<XlConfigFile> parse() {
        XlConfigFile file;
        for (;;) {
            skipBlank(/*newlines=*/true);
            if (atEnd())
                return file;
            if (peek() == ';') { // empty statement
                ++pos_;
                continue;
            }
            auto setting = parseSetting();
            if (!setting.ok())
                return setting.error();
            file.settings.push_back(std::move(*setting));
            // A setting ends at a newline, a ';', a comment or the end.
            skipBlank(/*newlines=*/false);
            if (atEnd())
                return file;
            if (peek() == ';' || peek() == '\n') {
                ++pos_;
                if (text_[pos_ - 1] == '\n')
                    ++line_;
                continue;
            }
            return fail("expected a new line or ';' after the value of '" +
                        file.settings.back().key + "', found " + describe(peek()));
        }
    }

private:
    bool atEnd() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }

    Error fail(const std::string& message) const {
        return makeError(EINVAL, "line " + std::to_string(line_) + ": " + message);
    }

    static std::string describe(char c) {
        if (c == '\n')
            return "the end of the line";
        if (std::isprint(static_cast<unsigned char>(c)))
            return std::string("'") + c + "'";
        char buf[16];
        std::snprintf(buf, sizeof buf, "byte 0x%02x", static_cast<unsigned char>(c));
        return buf;
    }

    // Spaces, tabs, CRs and comments; newlines too when asked.
    void skipBlank(bool newlines) {
        while (!atEnd()) {
            char c = peek();
            if (c == ' ' || c == '\t' || c == '\r') {
                ++pos_;
            } else if (c == '#') {
                while (!atEnd() && peek() != '\n')
                    ++pos_;
            } else if (c == '\n' && newlines) {
                ++pos_;
                ++line_;
            } else {
                return;
            }
        }
    }

    Result<XlSetting> parseSetting() {
        XlSetting setting;
        setting.line = line_;
        if (!isKeyStart(peek()))
            return fail("expected a setting name, found " + describe(peek()));
        while (!atEnd() && isKeyChar(peek()))
            setting.key += text_[pos_++];
        if (setting.key.size() > kMaxKeyLength)
            return fail("setting name is longer than " + std::to_string(kMaxKeyLength) +
                        " characters");
        skipBlank(false);
        if (!atEnd() && peek() == '+')
            return fail("'+=' is not supported (in '" + setting.key + "'); use '='");
        if (atEnd() || peek() != '=')
            return fail("expected '=' after '" + setting.key + "'");
        ++pos_;
        skipBlank(false);
        if (atEnd() || peek() == '\n' || peek() == ';')
            return fail("'" + setting.key + "' has no value");
        auto value = parseValue(/*inList=*/false);
        if (!value.ok())
            return value.error();
        setting.value = std::move(*value);
        return setting;
    }

    Result<XlValue> parseValue(bool inList) {
        XlValue value;
        value.line = line_;
        char c = peek();
        if (c == '"' || c == '\'') {
            value.kind = XlValue::Kind::String;
            auto text = parseString();
            if (!text.ok())
                return text.error();
            value.text = std::move(*text);
            return value;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) {
            value.kind = XlValue::Kind::Number;
            return parseNumber(std::move(value));
        }
        if (c == '[') {
            if (inList)
                return fail("a list inside a list is not supported");
            return parseList(std::move(value));
        }
        return fail("expected a value (a \"string\", a number or a [list]), found " + describe(c) +
                    (std::isalpha(static_cast<unsigned char>(c)) ? " (strings need quotes)" : ""));
    }

    Result<XlValue> parseNumber(XlValue value) {
        size_t start = pos_;
        bool hex = pos_ + 1 < text_.size() && peek() == '0' &&
                   (text_[pos_ + 1] == 'x' || text_[pos_ + 1] == 'X');
        if (hex) {
            pos_ += 2;
            while (!atEnd() && hexDigitValue(peek()) >= 0)
                ++pos_;
            if (pos_ == start + 2)
                return fail("'0x' needs hex digits");
        } else {
            while (!atEnd() && std::isdigit(static_cast<unsigned char>(peek())))
                ++pos_;
        }
        if (!atEnd() && (isKeyChar(peek()) || peek() == '.'))
            return fail("malformed number '" + std::string(text_.substr(start, pos_ - start + 1)) +
                        "...' (strings need quotes)");
        value.text = std::string(text_.substr(start, pos_ - start));
        return value;
    }

    Result<std::string> parseString() {
        const char quote = text_[pos_++];
        std::string out;
        for (;;) {
            if (atEnd() || peek() == '\n')
                return fail("string is not closed (missing " + std::string(1, quote) + ")");
            char c = text_[pos_++];
            if (c == quote)
                return out;
            if (c == '\0')
                return fail("a NUL byte inside a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (atEnd())
                return fail("a '\\' at the end of the file");
            char e = text_[pos_++];
            switch (e) {
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case 'r':
                out += '\r';
                break;
            case '\\':
            case '"':
            case '\'':
                out += e;
                break;
            case 'x': {
                int hi = atEnd() ? -1 : hexDigitValue(text_[pos_]);
                int lo = pos_ + 1 >= text_.size() ? -1 : hexDigitValue(text_[pos_ + 1]);
                if (hi < 0 || lo < 0)
                    return fail("'\\x' needs two hex digits");
                pos_ += 2;
                if (hi == 0 && lo == 0)
                    return fail("a NUL byte inside a string");
                out += static_cast<char>(hi * 16 + lo);
                break;
            }
            default:
                return fail(std::string("unknown escape '\\") + e + "' in a string");
            }
        }
    }

    // '[' already seen. Newlines inside a list continue it.
    Result<XlValue> parseList(XlValue value) {
        value.kind = XlValue::Kind::List;
        ++pos_;
        for (;;) {
            skipBlank(true);
            if (atEnd())
                return fail("list is not closed (missing ']', opened on line " +
                            std::to_string(value.line) + ")");
            if (peek() == ']') {
                ++pos_;
                return value;
            }
            if (value.items.size() >= kMaxListItems)
                return fail("list has more than " + std::to_string(kMaxListItems) + " items");
            auto item = parseValue(/*inList=*/true);
            if (!item.ok())
                return item.error();
            value.items.push_back(std::move(*item));
            skipBlank(true);
            if (atEnd())
                continue; // reported as unclosed above
            if (peek() == ',') {
                ++pos_;
            } else if (peek() != ']') {
                return fail("expected ',' or ']' in the list, found " + describe(peek()));
            }
        }
    }

    std::string_view text_;
    size_t pos_ = 0;
    int line_ = 1;
};

std::string quote(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        unsigned char u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string formatValue(const XlValue& value) {
    switch (value.kind) {
    case XlValue::Kind::String:
        return quote(value.text);
    case XlValue::Kind::Number:
        return value.text;
    case XlValue::Kind::List: {
        std::string out = "[";
        for (size_t i = 0; i < value.items.size(); ++i)
            out += (i ? ", " : " ") + formatValue(value.items[i]);
        return out + " ]";
    }
    }
    return {};
}

} // namespace

const XlSetting* XlConfigFile::find(std::string_view key) const {
    for (auto it = settings.rbegin(); it != settings.rend(); ++it)
        if (it->key == key)
            return &*it;
    return nullptr;
}

Result<XlConfigFile> parseXlConfig(std::string_view text) {
    if (text.size() > kMaxConfigBytes)
        return makeError(EFBIG,
                         "config is larger than " + std::to_string(kMaxConfigBytes) + " bytes");
    return Parser(text).parse();
}

Result<XlConfigFile> loadXlConfigFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return errnoError("cannot open config file '" + path + "'");
    std::string text;
    text.resize(kMaxConfigBytes + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad())
        return errnoError("cannot read config file '" + path + "'");
    text.resize(static_cast<size_t>(in.gcount()));
    auto parsed = parseXlConfig(text);
    if (!parsed.ok())
        return makeError(parsed.error().code, path + ":" +
                                                  (parsed.error().message.rfind("line ", 0) == 0
                                                       ? parsed.error().message.substr(5)
                                                       : " " + parsed.error().message));
    return parsed;
}

std::string formatXlSetting(const XlSetting& setting) {
    return setting.key + " = " + formatValue(setting.value);
}

} // namespace basalt::xlcfg
