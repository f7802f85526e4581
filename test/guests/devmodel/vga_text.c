/*
 * vga_text: with no BIOS to set a video mode, the guest programs QEMU's VGA
 * for 80x25 text itself (the standard mode 3 register values), loads glyphs
 * for the characters it uses into plane 2, sets two palette colours, writes
 * VGA_TEXT at row 10 and prints READY. The harness then takes a QMP
 * screendump and reads the text back with OCR (check_screen.sh); the guest
 * waits on 0xF4's other side: it spins until the harness ends the VM.
 */
#include "devmodel/dm_rt.h"

const char guest_name[] = "vga_text";

#define VGA_TEXT "BASALT VGA OK 12345"
#define VGA_TEXT_ROW 10
#define VGA_TEXT_COLUMN 30
#define TEXT_COLUMNS 80
#define TEXT_ROWS 25
#define TEXT_BUFFER 0xB8000u
#define FONT_PLANE 0xA0000u
#define FONT_SLOT_BYTES 32
#define GLYPH_ROWS 16
/* Black on white (white is palette 7 here), no blink. */
#define ATTRIBUTE_BLACK_ON_WHITE 0x70

#define VGA_MISC_WRITE 0x3C2
#define VGA_SEQ_INDEX 0x3C4
#define VGA_GC_INDEX 0x3CE
#define VGA_CRTC_INDEX 0x3D4
#define VGA_ATTR_INDEX 0x3C0
#define VGA_INPUT_STATUS 0x3DA /* reading it resets the attribute flip-flop */
#define VGA_DAC_WRITE_INDEX 0x3C8
#define VGA_DAC_DATA 0x3C9
#define VGA_ATTR_PALETTE_ENABLE 0x20
#define VGA_CRTC_PROTECT 0x11
#define VGA_MISC_MODE3 0x67
#define DAC_MAX 63

static const u8 seq_mode3[] = {0x03, 0x00, 0x03, 0x00, 0x02};
static const u8 crtc_mode3[] = {0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00,
                                0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E,
                                0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF};
static const u8 gc_mode3[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF};
static const u8 attr_mode3[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A,
                                0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08, 0x00};

/* 5x7 glyphs, one byte per row, bit 4 leftmost; drawn at double height. */
struct glyph {
    char c;
    u8 rows[7];
};
static const struct glyph glyphs[] = {
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
};
#define GLYPHS (sizeof glyphs / sizeof glyphs[0])

static void write_indexed(u16 index_port, const u8* values, u32 count) {
    for (u32 i = 0; i < count; i++) {
        outb(index_port, (u8)i);
        outb(index_port + 1, values[i]);
    }
}

static void set_mode3(void) {
    outb(VGA_MISC_WRITE, VGA_MISC_MODE3);
    write_indexed(VGA_SEQ_INDEX, seq_mode3, sizeof seq_mode3);
    outb(VGA_CRTC_INDEX, VGA_CRTC_PROTECT); /* unlock CRTC 0-7 */
    outb(VGA_CRTC_INDEX + 1, 0);
    write_indexed(VGA_CRTC_INDEX, crtc_mode3, sizeof crtc_mode3);
    write_indexed(VGA_GC_INDEX, gc_mode3, sizeof gc_mode3);
    (void)inb(VGA_INPUT_STATUS);
    for (u32 i = 0; i < sizeof attr_mode3; i++) {
        outb(VGA_ATTR_INDEX, (u8)i);
        outb(VGA_ATTR_INDEX, attr_mode3[i]);
    }
    outb(VGA_ATTR_INDEX, VGA_ATTR_PALETTE_ENABLE);
}

static void set_dac(u8 index, u8 level) {
    outb(VGA_DAC_WRITE_INDEX, index);
    outb(VGA_DAC_DATA, level);
    outb(VGA_DAC_DATA, level);
    outb(VGA_DAC_DATA, level);
}

/* Plane 2 holds the font: map it alone at 0xA0000, write, restore text mode. */
static void load_font(void) {
    static const u8 seq_font[] = {0x03, 0x00, 0x04, 0x00, 0x07};
    static const u8 gc_font[] = {0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0xFF};
    write_indexed(VGA_SEQ_INDEX, seq_font, sizeof seq_font);
    write_indexed(VGA_GC_INDEX, gc_font, sizeof gc_font);
    volatile u8* font = (volatile u8*)FONT_PLANE;
    for (u32 i = 0; i < 256 * FONT_SLOT_BYTES; i++)
        font[i] = 0;
    for (u32 g = 0; g < GLYPHS; g++) {
        volatile u8* slot = font + (u8)glyphs[g].c * FONT_SLOT_BYTES;
        for (u32 row = 0; row < 7; row++) {
            /* Columns 1-5 of 8, rows 1-14 of 16. */
            u8 bits = (u8)(glyphs[g].rows[row] << 2);
            slot[1 + 2 * row] = bits;
            slot[2 + 2 * row] = bits;
        }
    }
    write_indexed(VGA_SEQ_INDEX, seq_mode3, sizeof seq_mode3);
    write_indexed(VGA_GC_INDEX, gc_mode3, sizeof gc_mode3);
}

void guest_main(u32 nr_vcpus) {
    (void)nr_vcpus;
    set_mode3();
    load_font();
    set_dac(0, 0);       /* black */
    set_dac(7, DAC_MAX); /* white */
    volatile u16* text = (volatile u16*)TEXT_BUFFER;
    for (u32 i = 0; i < TEXT_COLUMNS * TEXT_ROWS; i++)
        text[i] = ATTRIBUTE_BLACK_ON_WHITE << 8 | ' ';
    const char* s = VGA_TEXT;
    for (u32 i = 0; s[i]; i++)
        text[VGA_TEXT_ROW * TEXT_COLUMNS + VGA_TEXT_COLUMN + i] =
            (u16)(ATTRIBUTE_BLACK_ON_WHITE << 8 | (u8)s[i]);
    for (u32 i = 0; s[i]; i++)
        if ((u8)text[VGA_TEXT_ROW * TEXT_COLUMNS + VGA_TEXT_COLUMN + i] != (u8)s[i])
            fail_hex("text memory did not keep the string at column", i);
    print("READY\n");
    for (;;)
        cpu_relax();
}
