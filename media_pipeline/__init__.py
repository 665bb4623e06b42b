"""Media engines: probing, images, and later speech, translation, transcoding, composition."""
