"""Builds the `landscape` package, generating landscape/v1/landscape_pb2{,_grpc}.py from ../../proto into the
build directory (never into the source tree) with protoc and grpc_python_plugin."""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
PROTO = "landscape/v1/landscape.proto"


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        protoc = os.environ.get("PROTOC") or shutil.which("protoc")
        plugin = os.environ.get("GRPC_PYTHON_PLUGIN") or shutil.which("grpc_python_plugin")
        if not protoc or not plugin:
            raise SystemExit("landscape: building the package needs protoc and grpc_python_plugin "
                             "(apt-get install protobuf-compiler protobuf-compiler-grpc)")
        if not os.path.isfile(os.path.join(PROTO_ROOT, PROTO)):
            raise SystemExit(f"landscape: {PROTO} not found under {PROTO_ROOT}: build from the repository")
        os.makedirs(os.path.join(self.build_lib, "landscape", "v1"), exist_ok=True)
        subprocess.check_call([protoc, f"--proto_path={PROTO_ROOT}", f"--python_out={self.build_lib}",
                               f"--grpc_python_out={self.build_lib}", f"--plugin=protoc-gen-grpc_python={plugin}",
                               os.path.join(PROTO_ROOT, PROTO)])
        open(os.path.join(self.build_lib, "landscape", "v1", "__init__.py"), "a").close()


setup(cmdclass={"build_py": BuildWithStubs})
