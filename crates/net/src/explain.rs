//! What a trained network did, layer by layer.
