"""The Wav2Lip generator (Prajwal et al., ACM MM 2020) as a PyTorch module, written from the
published architecture (../shared/reference/WAV2LIP_FACTS.md).

Its `state_dict()` has exactly the official keys, shapes and dtypes, so the checkpoints users
hold load into it strictly. Contract: `forward(audio, face)` with audio (B, 1, 80, 16) mel
chunks and face (B, 6, 96, 96) BGR in 0..1 (channels 0-2: the target crop with its lower half
zeroed; 3-5: the reference crop) returns (B, 3, 96, 96) BGR through a sigmoid. The training
form (B, T, 1, 80, 16) / (B, 6, T, 96, 96) is unrolled time-major and re-stacked, as the
original does.
"""
from __future__ import annotations

import torch
from torch import nn

FACE_SIZE = 96
MEL_BINS, MEL_STEP = 80, 16


class ConvBlock(nn.Module):
    """Conv2d + BatchNorm (inside `conv_block`) + ReLU; with `residual`, the input is added before the ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int | tuple[int, int], padding: int,
                 residual: bool = False) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout))
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return torch.relu(out)


class ConvTransposeBlock(nn.Module):
    """ConvTranspose2d + BatchNorm (inside `conv_block`) + ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int, output_padding: int = 0) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding),
                                        nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv_block(x))


def _res(n: int) -> ConvBlock:
    """A residual 3x3 block keeping n channels."""
    return ConvBlock(n, n, 3, 1, 1, residual=True)


def _down(cin: int, cout: int, residuals: int) -> nn.Sequential:
    """A stride-2 3x3 block then `residuals` residual blocks (one face-encoder stage)."""
    return nn.Sequential(ConvBlock(cin, cout, 3, 2, 1), *[_res(cout) for _ in range(residuals)])


def _up(cin: int, cout: int, residuals: int, stride: int = 2, padding: int = 1,
        output_padding: int = 1) -> nn.Sequential:
    """A transposed 3x3 block then `residuals` residual blocks (one decoder stage)."""
    return nn.Sequential(ConvTransposeBlock(cin, cout, 3, stride, padding, output_padding),
                         *[_res(cout) for _ in range(residuals)])


class Wav2Lip(nn.Module):
    """The generator: a face encoder and an audio encoder joined in a U-Net decoder."""

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList([
            nn.Sequential(ConvBlock(6, 16, 7, 1, 3)),                            # 96
            _down(16, 32, 2),                                                    # 48
            _down(32, 64, 3),                                                    # 24
            _down(64, 128, 2),                                                   # 12
            _down(128, 256, 2),                                                  # 6
            _down(256, 512, 1),                                                  # 3
            nn.Sequential(ConvBlock(512, 512, 3, 1, 0), ConvBlock(512, 512, 1, 1, 0)),  # 1
        ])
        self.audio_encoder = nn.Sequential(
            ConvBlock(1, 32, 3, 1, 1), _res(32), _res(32),
            ConvBlock(32, 64, 3, (3, 1), 1), _res(64), _res(64),
            ConvBlock(64, 128, 3, 3, 1), _res(128), _res(128),
            ConvBlock(128, 256, 3, (3, 2), 1), _res(256),
            ConvBlock(256, 512, 3, 1, 0), ConvBlock(512, 512, 1, 1, 0),
        )
        self.face_decoder_blocks = nn.ModuleList([
            nn.Sequential(ConvBlock(512, 512, 1, 1, 0)),                         # 1
            _up(1024, 512, 1, stride=1, padding=0, output_padding=0),            # 3
            _up(1024, 512, 2),                                                   # 6
            _up(768, 384, 2),                                                    # 12
            _up(512, 256, 2),                                                    # 24
            _up(320, 128, 2),                                                    # 48
            _up(160, 64, 2),                                                     # 96
        ])
        self.output_block = nn.Sequential(ConvBlock(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1), nn.Sigmoid())

    def forward(self, audio_sequences: torch.Tensor, face_sequences: torch.Tensor) -> torch.Tensor:
        """Generated faces (B, 3, 96, 96) in (0, 1), or (B, 3, T, 96, 96) for the 5-D training form."""
        batch = audio_sequences.size(0)
        timed = face_sequences.dim() > 4
        if timed:  # (B, T, 1, 80, 16) and (B, 6, T, 96, 96): unroll time-major into T*B items
            audio_sequences = torch.cat([audio_sequences[:, t] for t in range(audio_sequences.size(1))], dim=0)
            face_sequences = torch.cat([face_sequences[:, :, t] for t in range(face_sequences.size(2))], dim=0)
        x = self.audio_encoder(audio_sequences)
        skips = []
        feat = face_sequences
        for block in self.face_encoder_blocks:
            feat = block(feat)
            skips.append(feat)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), skips.pop()), dim=1)
        out = self.output_block(x)
        if timed:  # back to (B, 3, T, 96, 96)
            out = torch.stack(torch.split(out, batch, dim=0), dim=2)
        return out
