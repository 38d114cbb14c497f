"""PyTorch worker of bench_model.py: torchvision's ResNet with a temporal shift written here, same shapes as ours.

    <python with torch and torchvision> benchmarks/torch_tsm.py '<job JSON>'   # prints one JSON line

TSM: residual shift (1/8 of the channels each way) before `conv1` of every block, as the original; TSN: none.
Segment consensus by averaging the per-frame logits. Forward in eval mode under `torch.no_grad()`; the train
step is forward + cross-entropy + backward + SGD(momentum 0.9). Threads: the job's count (bench_model passes the
machine's cores, as MindSpore uses). Instruction sets come from the environment the parent sets
(ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY). Never imported by the project; torch is no dependency.
"""
import json
import sys

from timing import run_timed  # benchmarks/timing.py: run as `python benchmarks/torch_tsm.py`, its folder is on the path


def temporal_shift(x, num_segments, shift_div=8):
    import torch
    nt, c, h, w = x.shape
    x = x.view(nt // num_segments, num_segments, c, h, w)  # [N*T, C, H, W] -> [N, T, C, H, W]
    fold = c // shift_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]  # shift left: frame t sees t+1
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]  # shift right: frame t sees t-1
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]  # not shifted
    return out.view(nt, c, h, w)  # [N, T, C, H, W] -> [N*T, C, H, W]


def build(job):
    import torch
    import torchvision

    class Shifted(torch.nn.Module):
        def __init__(self, conv, num_segments):
            super().__init__()
            self.conv, self.num_segments = conv, num_segments

        def forward(self, x):
            return self.conv(temporal_shift(x, self.num_segments))

    class VideoNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.base = getattr(torchvision.models, f"resnet{job['depth']}")(num_classes=job['num_classes'])
            if job['arch'] == 'tsm':
                for stage in (self.base.layer1, self.base.layer2, self.base.layer3, self.base.layer4):
                    for block in stage:
                        block.conv1 = Shifted(block.conv1, job['num_segments'])

        def forward(self, clips):
            n, tc, h, w = clips.shape
            logits = self.base(clips.view(n * tc // 3, 3, h, w))  # [N, T*3, H, W] -> [N*T, 3, H, W] -> [N*T, K]
            return logits.view(n, tc // 3, -1).mean(dim=1)  # [N*T, K] -> [N, T, K] -> [N, K]

    torch.manual_seed(0)
    return VideoNet()


def step_of(job):
    import torch
    torch.set_num_threads(job['threads'])
    net = build(job)
    shape = (job['batch'], 3 * job['num_segments'], job['image_size'], job['image_size'])
    clips = torch.randn(shape)
    if job['kind'] == 'forward':
        net.eval()

        def forward():
            with torch.no_grad():
                return net(clips).numpy()
        return forward
    labels = torch.randint(0, job['num_classes'], (job['batch'],))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    net.train()

    def train_step():
        optimizer.zero_grad()
        loss = loss_fn(net(clips), labels)
        loss.backward()
        optimizer.step()
        return loss.item()
    return train_step


def main():
    import torch
    job = json.loads(sys.argv[1])
    result = run_timed(step_of(job), job['warmup'], job['repeats'])
    result.update(torch=torch.__version__, isa=torch.backends.cpu.get_cpu_capability(), threads=job['threads'])
    print(json.dumps(result))


if __name__ == '__main__':
    main()
