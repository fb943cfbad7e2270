r"""Which orbitals and single excitations (CSFs) enter the sTDA matrix (Grimme 2013, Sec. II.C).

1. Threshold: :math:`E_\mathrm{thr} = \min_{ia} A'_{ia,ia} + w`, ``w`` the energy
   window of :class:`~ase_mlham.excitations.parameters.STDASettings` (relative
   to the lowest CSF here, absolute in the ``stda`` program), lowered to the
   diagonal of the ``max_primary``-th lowest CSF when more lie below it.
2. Active orbitals: occupied with :math:`\varepsilon_i \ge \varepsilon_\mathrm{LUMO} - E_w`,
   virtual with :math:`\varepsilon_a \le \varepsilon_\mathrm{HOMO} + E_w`,
   :math:`E_w = 2 (1 + 0.8 a_x) E_\mathrm{thr}`.
3. Primary CSFs: active, :math:`A'_{ia,ia} \le E_\mathrm{thr}` (at least ``n_states``
   of them: the lowest diagonal elements, should the window hold fewer).
4. Secondary CSFs: the other active CSFs ``u`` whose second-order contribution
   :math:`E^{(2)}_u = \sum_{p \in P} |A'_{pu}|^2 / (A'_{uu} - A'_{pp})` exceeds the
   perturbative threshold, as many as the CSF budget leaves room for (largest
   :math:`E^{(2)}` first).

The choices are made on detached values: the selected set is piecewise constant
in the inputs, and the matrix over it is differentiable. Along a trajectory a
CSF crossing the threshold makes the excitation energies jump slightly (by about
its :math:`E^{(2)}` for secondary CSFs); ``energy_window=math.inf,
csfs_per_state=None`` (every CSF) avoids that.
Likewise, in a symmetric molecule a threshold or budget that splits a set of
degenerate CSFs lets the arbitrary basis of degenerate orbitals leak into the
result, by about the couplings to the CSFs left out.
"""

from __future__ import annotations

import math

import torch

from ase_mlham.excitations.matrix import CSFSpace


def energy_threshold(space: CSFSpace, energy_window: float, max_primary: int | None = None) -> float:
    """:math:`E_\\mathrm{thr}` in eV: the lowest diagonal element plus the window, at most the
    ``max_primary``-th lowest diagonal element (``None``: no cap).

    Exact diagonal elements are computed only for CSFs whose lower bound lies below the threshold
    found so far (:meth:`CSFSpace.lowest`).
    """
    def threshold(values: torch.Tensor) -> float:
        value = float(values.min()) + energy_window
        if max_primary is not None and max_primary < space.size and max_primary <= len(values):
            value = min(value, float(torch.kthvalue(values, max_primary).values))
        return value

    return threshold(space.lowest(threshold)[1])


def active_orbitals(energies: torch.Tensor, nocc: int, threshold: float, a_x: float) -> tuple[int, int]:
    """``(first_occupied, end_virtual)``: the active orbitals are ``energies[first_occupied:end_virtual]``.

    ``energies`` ``(n_orbitals,)`` eV ascending, ``threshold`` :math:`E_\\mathrm{thr}` in eV.
    HOMO and LUMO are always active.
    """
    if math.isinf(threshold):
        return 0, len(energies)
    width = 2.0 * (1.0 + 0.8 * a_x) * threshold
    values = energies.detach()
    lumo, homo = float(values[nocc]), float(values[nocc - 1])
    first_occupied = min(int((values[:nocc] < lumo - width).sum()), nocc - 1)
    end_virtual = max(nocc + int((values[nocc:] <= homo + width).sum()), nocc + 1)
    return first_occupied, end_virtual


def primary_csfs(space: CSFSpace, threshold: float, n_states: int) -> torch.Tensor:
    """Indices of the CSFs with diagonal at most ``threshold`` eV, at least ``min(n_states, n_csf)`` of them."""
    indices, values = space.lowest(lambda values: threshold)
    selected = indices[values <= threshold]
    if len(selected) < n_states:
        def kth(values: torch.Tensor) -> float:
            return float(torch.kthvalue(values, n_states).values) if len(values) >= n_states else math.inf

        indices, values = space.lowest(kth)
        selected = indices[torch.argsort(values)[:n_states]]
    return torch.sort(selected).values


def secondary_csfs(space: CSFSpace, primary: torch.Tensor, perturbative_threshold: float | None,
                   max_secondary: int | None = None) -> torch.Tensor:
    """Indices of the non-primary CSFs whose :math:`E^{(2)}` exceeds ``perturbative_threshold`` (eV).

    At most ``max_secondary`` of them (``None``: no limit), those of largest :math:`E^{(2)}`.
    """
    is_candidate = torch.ones(space.size, dtype=torch.bool, device=primary.device)
    is_candidate[primary] = False
    candidates = torch.nonzero(is_candidate).flatten()
    if (perturbative_threshold is None or len(candidates) == 0 or len(primary) == 0
            or (max_secondary is not None and max_secondary < 1)):
        return candidates[:0]
    primary_diagonal = space.diagonal(primary)
    candidate_diagonal = space.diagonal(candidates)
    second_order = candidate_diagonal.new_empty(len(candidates))
    with torch.no_grad():  # a choice, not part of the result's graph
        potentials = space.row_potentials(primary)
        for tile in space.tiles(candidates, len(primary)):
            coupling = space.tile_block(primary, potentials, candidates[tile])  # (n_primary, n_tile)
            # candidates lie above E_thr >= every primary diagonal; clamp guards the n_states fallback
            denominator = (candidate_diagonal[tile][None, :] - primary_diagonal[:, None]).clamp_min(1e-3)
            second_order[tile] = (coupling * coupling / denominator).sum(0)
    above = second_order > perturbative_threshold
    candidates, second_order = candidates[above], second_order[above]
    if max_secondary is not None and len(candidates) > max_secondary:
        candidates = candidates[torch.argsort(second_order, descending=True)[:max_secondary]]
    return torch.sort(candidates).values
