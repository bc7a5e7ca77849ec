"""What every package uses: the one error type, reading inputs, the atomic writer, size bounds."""
