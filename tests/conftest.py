from tiny_logs import shop_files

__all__ = ["shop_files"]
