"""`fcn run` from an installed wheel, away from the source checkout: the
`caffe` package is found as a resource of the installed project."""
import os
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_fcn_run_works_from_an_installed_wheel(tmp_path):
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), ROOT], capture_output=True, text=True, cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = wheels.glob("fcn_caffe-*.whl")
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies (numpy, numba, ...) from this interpreter's site-packages;
    # its .pth files (an editable install of the checkout among them) are not read.
    with open(os.path.join(site, "deps.pth"), "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site,
                                str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-2000:]
    script = tmp_path / "script.py"
    script.write_text("import caffe\n"
                      "from caffe import layers as L\n"
                      "n = caffe.NetSpec()\n"
                      "n.data = L.Input(shape=dict(dim=[1, 3, 8, 8]))\n"
                      "n.conv = L.Convolution(n.data, num_output=2, kernel_size=3)\n"
                      "open('net.prototxt', 'w').write(str(n.to_proto()))\n"
                      "net = caffe.Net('net.prototxt', caffe.TEST)\n"
                      "print(caffe.__file__)\n"
                      "print(net.forward()['conv'].shape)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ran = subprocess.run([str(python), "-m", "tools.cli", "run", str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr[-2000:]
    where, shape = ran.stdout.strip().splitlines()
    assert where.startswith(site) and ROOT not in where, where
    assert shape == "(1, 2, 6, 6)"
