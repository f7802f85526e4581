#!/usr/bin/env bash
# Takes a QMP screendump of a running QEMU and checks, with OCR, that the
# screen shows TEXT.
# usage: check_screen.sh QMP_SOCKET OUT_PNG TEXT
set -uo pipefail
qmp=$1 png=$2 text=$3

command -v tesseract >/dev/null || { echo "SKIP: tesseract-ocr is not installed"; exit 77; }

/usr/bin/python3 - "$qmp" "$png" <<'PY' || exit 1
import json, socket, sys, time
qmp, png = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(qmp)
f = s.makefile("rw")
def command(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args} if args else {"execute": cmd}) + "\n")
    f.flush()
    while True:
        reply = json.loads(f.readline())
        if "return" in reply or "error" in reply:
            return reply
json.loads(f.readline())  # greeting
command("qmp_capabilities")
# QEMU redraws on its display refresh; give it a few.
time.sleep(1)
# Debian's qemu-system-xen is built without libpng: take a PPM and convert.
reply = command("screendump", filename=png[:-len(".png")] + ".ppm")
if "error" in reply:
    sys.exit("screendump: %s" % reply["error"])
PY

# Debian's python3 (python3-pil), whatever python3 PATH finds.
# The PNG, and a copy scaled up 3x (glyphs are 8x16 pixels) for the OCR.
big="${png%.png}-big.png"
/usr/bin/python3 - "${png%.png}.ppm" "$png" "$big" <<'PY' || exit 1
import sys
from PIL import Image
im = Image.open(sys.argv[1])
im.save(sys.argv[2])
gray = im.convert("L")
gray.resize((im.width * 3, im.height * 3), Image.NEAREST).save(sys.argv[3])
PY
seen=$(tesseract "$big" - 2>/dev/null | tr -s ' \n' ' ')
echo "OCR: $seen"
# Case-insensitive: the guest draws its own 8x16 glyphs, and OCR reads its
# capital K as either case.
case "${seen^^}" in
*"${text^^}"*) exit 0 ;;
esac
echo "expected '$text' on the screen"
exit 1
