"""tools/make_demo_dataset.py: the CLI writes the layout the pipeline reads."""
from src.data import read_list_file
from tools import make_demo_dataset


def test_cli_writes_lists_and_frames(tmp_path, capsys):
    make_demo_dataset.main(["--out", str(tmp_path), "--train_per_class", "2", "--val_per_class", "1",
                            "--num_frames", "4", "--height", "16", "--width", "24", "--motions", "move", "zoom"])
    assert "4 classes, 8 train / 4 val videos" in capsys.readouterr().out
    train = read_list_file(str(tmp_path / "train_videofolder.txt"), num_classes=4)
    assert len(train) == 8 and all((tmp_path / "frames" / r.path / "000004.jpg").is_file() for r in train)
