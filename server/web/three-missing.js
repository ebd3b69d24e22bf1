window.THREE = undefined; // libjs-three was not installed at build time
