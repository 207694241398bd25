#!/usr/bin/python3
"""The reference a remover must beat: OpenCV's Telea inpainting handed the
true subtitle mask of a fixture (what burn-fixture.sh made).

    telea.py FIXTURE_DIR OUT.mp4

Each frame of FIXTURE_DIR/burned.mp4 is inpainted (radius 3) where the
subtitles touched it (render-black.mkv > 16 or render-white.mkv < 239 in
any channel, grown by 1 px), and encoded as vsr encodes (x264 veryfast,
CRF 18). Needs Debian's python3-opencv and ffmpeg."""
import subprocess
import sys

import cv2
import numpy as np


def size(path):
    out = subprocess.run(['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries',
                          'stream=width,height,r_frame_rate', '-of', 'csv=p=0', path],
                         check=True, capture_output=True, text=True).stdout.strip().split(',')
    return int(out[0]), int(out[1]), out[2]


def frames(path, w, h):
    p = subprocess.Popen(['ffmpeg', '-nostdin', '-v', 'error', '-i', path, '-map', '0:v:0',
                          '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-'],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    n = w * h * 3
    while True:
        b = p.stdout.read(n)
        if len(b) < n:
            break
        yield np.frombuffer(b, np.uint8).reshape(h, w, 3)
    p.wait()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    fx, out = sys.argv[1], sys.argv[2]
    w, h, rate = size(fx + '/burned.mp4')
    enc = subprocess.Popen(['ffmpeg', '-nostdin', '-v', 'error', '-y', '-f', 'rawvideo',
                            '-pix_fmt', 'bgr24', '-s', f'{w}x{h}', '-r', rate, '-i', '-',
                            '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18',
                            '-pix_fmt', 'yuv420p', out], stdin=subprocess.PIPE)
    kernel = np.ones((3, 3), np.uint8)
    for b, rb, rw in zip(frames(fx + '/burned.mp4', w, h), frames(fx + '/render-black.mkv', w, h),
                         frames(fx + '/render-white.mkv', w, h)):
        touched = ((rb > 16) | (rw < 239)).any(axis=2).astype(np.uint8)
        if touched.any():
            b = cv2.inpaint(b, cv2.dilate(touched, kernel), 3, cv2.INPAINT_TELEA)
        enc.stdin.write(b.tobytes())
    enc.stdin.close()
    if enc.wait() != 0:
        sys.exit('encoding failed')


main()
