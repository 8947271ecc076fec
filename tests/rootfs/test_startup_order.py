"""The release host is laid out by Sources/Host/startup.order: the functions start-up and
idle run come first, so they share pages (Package.swift, scripts/build-release.sh,
docs/benchmarks.md "RSS idle"). Functions the file names that are gone, or a build without
the layout flags, cost 3-5 MiB of idle RSS and nothing else, so only these tests notice.
New start-up code the file does not name yet is not caught here: run
scripts/startup-order.sh after such changes."""

import pathlib
import subprocess

from support import REPO, require_tool

ORDER = REPO / "Sources" / "Host" / "startup.order"


def ordered_names() -> list[str]:
    lines = (line.strip() for line in ORDER.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def text_symbols(binary: pathlib.Path) -> dict[str, tuple[int, int]]:
    """Function name -> (address, size in bytes)."""
    require_tool("nm", "binutils")
    out = subprocess.run(["nm", "--defined-only", "-S", str(binary)], check=True, capture_output=True, text=True).stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) == 4 and parts[2] in "tTwW":
            symbols[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    return symbols


def test_the_order_file_still_names_the_binarys_functions(binary: pathlib.Path) -> None:
    names = ordered_names()
    symbols = text_symbols(binary)
    missing = [name for name in names if name not in symbols]
    assert len(names) > 1000, f"{ORDER} lists only {len(names)} functions"
    assert len(missing) <= len(names) // 10, (
        f"{len(missing)} of the {len(names)} functions in {ORDER} are not in the release binary "
        f"(first: {missing[:3]}): start-up code moved; run scripts/startup-order.sh")


def test_the_binary_places_them_first_in_that_order(binary: pathlib.Path) -> None:
    symbols = text_symbols(binary)
    placed = [symbols[name] for name in ordered_names() if name in symbols]
    addresses = [address for address, _ in placed]
    # Aliases (two names, one body) may sit out of order; nothing else should.
    out_of_order = sum(1 for a, b in zip(addresses, addresses[1:]) if b < a)
    assert out_of_order <= len(addresses) // 100, (
        f"{out_of_order} of {len(addresses)} ordered functions are out of order: the host was not "
        "linked with its order file and the flags of scripts/build-release.sh")
    # First: within twice their own size of the start of the code. (_start and the like
    # sit in sections of their own, elsewhere.)
    start = min(address for address, _ in symbols.values())
    span = 2 * sum(size for _, size in placed)
    late = [address for address in addresses if address - start > span]
    assert len(late) <= len(addresses) // 100, (
        f"{len(late)} of {len(addresses)} ordered functions lie beyond the first {span} bytes of code")
