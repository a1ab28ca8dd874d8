package autodiff

// LSTMCellComposite exposes lstmCellComposite, LSTMCell's reference, to
// the package's external tests.
var LSTMCellComposite = lstmCellComposite
