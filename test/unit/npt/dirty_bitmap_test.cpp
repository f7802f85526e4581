// DirtyBitmap: word-boundary arithmetic of marking, merging and taking.

#include "npt/dirty_bitmap.h"

#include <catch2/catch.hpp>

#include <vector>

using basalt::npt::DirtyBitmap;
using Pfns = std::vector<uint64_t>;

TEST_CASE("marks and takes ranges across word boundaries", "[npt]") {
    DirtyBitmap bitmap;
    bitmap.reset(200);
    CHECK(bitmap.words() == 4);
    bitmap.markRange(60, 10); // 60..69 straddles words 0 and 1
    bitmap.markRange(128, 64);

    Pfns pfns;
    bitmap.takeRange(62, 70, 1000, pfns); // 62..131
    Pfns expected;
    for (uint64_t p = 62; p < 70; ++p)
        expected.push_back(1000 + p);
    for (uint64_t p = 128; p < 132; ++p)
        expected.push_back(1000 + p);
    CHECK(pfns == expected);

    auto all = bitmap.takeAll();
    REQUIRE(all.size() == 4);
    CHECK(all[0] == (uint64_t{1} << 60 | uint64_t{1} << 61));
    CHECK(all[1] == 0);
    CHECK(all[2] == ~uint64_t{0} << 4);
    CHECK(all[3] == 0);
    CHECK(bitmap.takeAll() == std::vector<uint64_t>(4, 0));
}

TEST_CASE("merge ignores bits beyond the last page", "[npt]") {
    DirtyBitmap bitmap;
    bitmap.reset(70);
    std::vector<uint64_t> fromHypervisor{1, ~uint64_t{0}, 5};
    bitmap.merge(fromHypervisor);
    auto all = bitmap.takeAll();
    REQUIRE(all.size() == 2);
    CHECK(all[0] == 1);
    CHECK(all[1] == 0x3F); // pages 64..69
}

TEST_CASE("a whole-word range and a single last page", "[npt]") {
    DirtyBitmap bitmap;
    bitmap.reset(128);
    bitmap.markRange(0, 128);
    Pfns pfns;
    bitmap.takeRange(127, 1, 0, pfns);
    CHECK(pfns == Pfns{127});
    pfns.clear();
    bitmap.takeRange(0, 64, 0, pfns);
    CHECK(pfns.size() == 64);
    auto all = bitmap.takeAll();
    CHECK(all[0] == 0);
    CHECK(all[1] == ~uint64_t{0} >> 1);
    bitmap.reset(0);
    CHECK(bitmap.words() == 0);
}
