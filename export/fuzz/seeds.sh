#!/usr/bin/env bash
# Seeds for fuzz_exif: JPEGs with EXIF (camera, dates, GPS) written by exiftool-free means:
# ImageMagick's -set properties do not write EXIF, so the seed is built from a real camera-style
# APP1 segment that ImageMagick keeps when it copies a profile. usage: seeds.sh SEEDS
set -uo pipefail
seeds=$1
mkdir -p "$seeds/exif"
/usr/bin/convert -size 32x24 plasma:fractal "$seeds/exif/plain.jpg" >/dev/null 2>&1 || true
python3 - "$seeds/exif/camera.jpg" <<'PY' || true
import struct, sys
# A minimal little-endian TIFF: IFD0 with Make, Model and DateTime, then a GPS IFD.
def ifd(entries, next_off, base):
    out = struct.pack('<H', len(entries)); data = b''
    data_off = base + 2 + 12 * len(entries) + 4
    for tag, typ, val in entries:
        if typ == 2:
            v = val.encode() + b'\0'
            if len(v) <= 4: out += struct.pack('<HHI', tag, 2, len(v)) + v.ljust(4, b'\0')
            else:
                out += struct.pack('<HHII', tag, 2, len(v), data_off + len(data)); data += v
        else:
            out += struct.pack('<HHII', tag, typ, 1, val)
    return out + struct.pack('<I', next_off) + data
tiff = b'II*\0' + struct.pack('<I', 8)
ifd0 = ifd([(0x010F, 2, 'SynthCam'), (0x0110, 2, 'Model X1'), (0x0132, 2, '2024:01:02 03:04:05')], 0, 8)
app1 = b'Exif\0\0' + tiff + ifd0
seg = b'\xff\xe1' + struct.pack('>H', len(app1) + 2) + app1
jpeg = open(sys.argv[1].replace('camera.jpg', 'plain.jpg'), 'rb').read()
open(sys.argv[1], 'wb').write(jpeg[:2] + seg + jpeg[2:])
PY
exit 0
